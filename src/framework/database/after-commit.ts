import type { QueryRunner } from 'typeorm';

/** How deep in savepoints a query runner is: 1 in a transaction, 2 in a nested `transaction()`, … */
function depthOf(queryRunner: QueryRunner): number {
  // TypeORM keeps it protected; every driver's commit and rollback count it the same way.
  return (queryRunner as unknown as { transactionDepth: number }).transactionDepth;
}

/** `push(...items)` without one argument per item (an `enqueueMany` of many thousand jobs). */
function append<T>(to: T[], items: readonly T[]): void {
  for (const item of items) {
    to.push(item);
  }
}

/**
 * Items a transaction queues for after its commit (jobs to publish, security events to log), kept on its
 * query runner by savepoint depth. TypeORM sends `afterTransactionCommit` when a nested `transaction()`
 * releases its savepoint too, while the enclosing transaction can still roll everything back: a
 * savepoint's items then move to the enclosing level, and only the outermost COMMIT hands them over. A
 * savepoint's rollback drops its own items and keeps the enclosing level's.
 * Example: `queue.add(manager.queryRunner, [job])`; in `afterTransactionCommit(event)`,
 * `queue.committed(event.queryRunner)?.forEach(publish)`; in `afterTransactionRollback(event)`,
 * `queue.rolledBack(event.queryRunner)`.
 */
export class AfterCommitQueue<T> {
  /** `key` names the queue in the query runner's `data`, which other subscribers share. */
  constructor(private readonly key: string) {}

  private levels(queryRunner: QueryRunner): T[][] | undefined {
    return (queryRunner.data as Record<string, T[][] | undefined>)[this.key];
  }

  /** Queues items on the transaction `queryRunner` is in (it must be in one). */
  add(queryRunner: QueryRunner, items: readonly T[]): void {
    const data = queryRunner.data as Record<string, T[][] | undefined>;
    const levels = (data[this.key] ??= []);
    append((levels[depthOf(queryRunner)] ??= []), items);
  }

  /**
   * From `afterTransactionCommit`: the items to act on now that the outermost transaction committed, or
   * undefined (nothing queued, or only a savepoint was released).
   */
  committed(queryRunner: QueryRunner): T[] | undefined {
    const levels = this.levels(queryRunner);
    if (!levels?.length) {
      return undefined;
    }
    if (queryRunner.isTransactionActive) {
      const depth = depthOf(queryRunner);
      for (const released of levels.splice(depth + 1)) {
        if (released) {
          append((levels[depth] ??= []), released);
        }
      }
      return undefined;
    }
    (queryRunner.data as Record<string, unknown>)[this.key] = undefined;
    return levels.flat();
  }

  /** From `afterTransactionRollback`: forgets what the rollback undid. */
  rolledBack(queryRunner: QueryRunner): void {
    if (queryRunner.isTransactionActive) {
      this.levels(queryRunner)?.splice(depthOf(queryRunner) + 1);
    } else {
      (queryRunner.data as Record<string, unknown>)[this.key] = undefined;
    }
  }
}
