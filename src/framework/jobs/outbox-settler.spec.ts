import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { OutboxSettler } from 'src/framework/jobs/outbox-settler';

const A = '00000000-0000-4000-8000-00000000000a';
const B = '00000000-0000-4000-8000-00000000000b';

/** A DataSource whose queries are recorded and fail while `down` is set (a database blip). */
function fakeDatabase() {
  const db = {
    down: false,
    queries: [] as { sql: string; params: unknown[] }[],
    /** The ids every successful batched completion UPDATE marked, in order. */
    marked: [] as string[][],
    query(sql: string, params: unknown[]): Promise<unknown> {
      db.queries.push({ sql, params });
      if (db.down) {
        return Promise.reject(new Error('connection reset'));
      }
      if (sql.includes('ANY($1::uuid[])')) {
        db.marked.push(params[0] as string[]);
      }
      return Promise.resolve([]);
    },
  };
  return db;
}

describe(OutboxSettler.name, () => {
  let db: ReturnType<typeof fakeDatabase>;
  let sut: OutboxSettler;
  let errors: string[];

  beforeEach(() => {
    jest.useFakeTimers();
    db = fakeDatabase();
    sut = new OutboxSettler(db as unknown as DataSource);
    errors = [];
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'error').mockImplementation((message: unknown) => {
      errors.push(String(message));
    });
  });

  afterEach(() => {
    sut.onApplicationShutdown();
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  it('marks the completions of a batch window with one UPDATE', async () => {
    sut.finishLater(A);
    sut.finishLater(B);
    sut.finishLater('repeat:1'); // a scheduler run: no outbox row
    await jest.advanceTimersByTimeAsync(10);
    expect(db.queries).toHaveLength(1);
    expect(db.marked).toEqual([[A, B]]);
  });

  it('retries a batch whose UPDATE failed, with a doubling backoff, until it lands', async () => {
    db.down = true;
    sut.finishLater(A);
    await jest.advanceTimersByTimeAsync(10); // the batch fails
    await jest.advanceTimersByTimeAsync(10); // first retry (10 ms) fails
    await jest.advanceTimersByTimeAsync(19); // the second waits 20 ms
    expect(db.queries).toHaveLength(2);
    sut.finishLater(B); // joins the retry, not a batch of its own
    db.down = false;
    await jest.advanceTimersByTimeAsync(1);
    expect(db.queries).toHaveLength(3);
    expect(db.marked).toEqual([[A, B]]);
    await jest.advanceTimersByTimeAsync(10_000);
    expect(db.queries).toHaveLength(3); // nothing left to retry
  });

  it('does not retry the stale completion of a job marked again since (a reopen from the jobs API)', async () => {
    db.down = true;
    sut.finishLater(A);
    sut.finishLater(B);
    await jest.advanceTimersByTimeAsync(10);
    db.down = false;
    await sut.reopen(A);
    await jest.advanceTimersByTimeAsync(5_000);
    expect(db.marked).toEqual([[B]]);
  });

  it('does not put back a job marked again while its batch was being written', async () => {
    db.down = true;
    sut.finishLater(A);
    const queried = db.queries.length;
    jest.advanceTimersByTime(10); // the batch UPDATE is sent, its answer not handled yet
    expect(db.queries).toHaveLength(queried + 1);
    db.down = false; // the batch's answer (a failure) is still to be handled
    await sut.reopen(A);
    await jest.advanceTimersByTimeAsync(5_000);
    expect(db.marked).toEqual([]);
  });

  it('flush() at shutdown writes the marks of a failed batch once the database answers again', async () => {
    db.down = true;
    sut.finishLater(A);
    await jest.advanceTimersByTimeAsync(10);
    const flushed = sut.flush();
    await jest.advanceTimersByTimeAsync(100);
    db.down = false;
    await jest.advanceTimersByTimeAsync(1_000);
    await flushed;
    expect(db.marked).toEqual([[A]]);
    expect(errors).toEqual([]);
  });

  it('flush() reports the marks it could not write after a few seconds, and the retries stop at shutdown', async () => {
    db.down = true;
    sut.finishLater(A);
    let done = false;
    const flushed = sut.flush().then(() => (done = true));
    await jest.advanceTimersByTimeAsync(2_500);
    expect(done).toBe(false);
    await jest.advanceTimersByTimeAsync(1_000);
    await flushed;
    expect(errors).toEqual([`Could not mark 1 completed job(s) finished before shutdown: ${A}`]);
    sut.onApplicationShutdown();
    const queried = db.queries.length;
    db.down = false;
    await jest.advanceTimersByTimeAsync(60_000);
    expect(db.queries).toHaveLength(queried);
  });
});
