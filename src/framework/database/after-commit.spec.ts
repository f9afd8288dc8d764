import type { QueryRunner } from 'typeorm';
import { AfterCommitQueue } from 'src/framework/database/after-commit';

/** A query runner as TypeORM's commit and rollback leave it when they broadcast their after-events. */
class FakeRunner {
  data: Record<string, unknown> = {};
  isTransactionActive = false;
  transactionDepth = 0;

  start(): void {
    this.isTransactionActive = true;
    this.transactionDepth++;
  }

  /** Ends the innermost level (COMMIT or RELEASE SAVEPOINT; ROLLBACK or ROLLBACK TO SAVEPOINT). */
  end(): void {
    this.transactionDepth--;
    this.isTransactionActive = this.transactionDepth > 0;
  }

  get runner(): QueryRunner {
    return this as unknown as QueryRunner;
  }
}

describe('AfterCommitQueue', () => {
  let queue: AfterCommitQueue<string>;
  let runner: FakeRunner;

  beforeEach(() => {
    queue = new AfterCommitQueue<string>('test:pending');
    runner = new FakeRunner();
  });

  const commit = (): string[] | undefined => {
    runner.end();
    return queue.committed(runner.runner);
  };
  const rollback = (): void => {
    runner.end();
    queue.rolledBack(runner.runner);
  };

  it('hands over a transaction’s items at its COMMIT, once', () => {
    runner.start();
    queue.add(runner.runner, ['a', 'b']);
    queue.add(runner.runner, ['c']);
    expect(commit()).toEqual(['a', 'b', 'c']);
    runner.start();
    expect(commit()).toBeUndefined();
  });

  it('holds a savepoint’s items until the outermost COMMIT, in the order they were queued', () => {
    runner.start();
    queue.add(runner.runner, ['outer']);
    runner.start(); // a nested transaction()
    queue.add(runner.runner, ['inner']);
    expect(commit()).toBeUndefined(); // RELEASE SAVEPOINT: the outer transaction can still roll back
    queue.add(runner.runner, ['after']);
    expect(commit()).toEqual(['outer', 'inner', 'after']);
  });

  it('drops everything when the outermost transaction rolls back, released savepoints included', () => {
    runner.start();
    queue.add(runner.runner, ['outer']);
    runner.start();
    queue.add(runner.runner, ['inner']);
    expect(commit()).toBeUndefined();
    rollback();
    runner.start();
    expect(commit()).toBeUndefined();
  });

  it('drops only a rolled-back savepoint’s items (and deeper ones), keeping the enclosing level’s', () => {
    runner.start();
    queue.add(runner.runner, ['kept']);
    runner.start();
    queue.add(runner.runner, ['undone']);
    runner.start();
    queue.add(runner.runner, ['undone too']);
    expect(commit()).toBeUndefined(); // the innermost released into the middle level
    rollback(); // the middle level rolled back
    queue.add(runner.runner, ['later']);
    expect(commit()).toEqual(['kept', 'later']);
  });

  it('keeps queues of different keys on one query runner apart', () => {
    const other = new AfterCommitQueue<string>('test:other');
    runner.start();
    queue.add(runner.runner, ['mine']);
    other.add(runner.runner, ['theirs']);
    runner.end();
    expect([queue.committed(runner.runner), other.committed(runner.runner)]).toEqual([['mine'], ['theirs']]);
  });
});
