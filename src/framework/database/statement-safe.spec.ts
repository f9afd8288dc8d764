import type { DataSource, EntitySubscriberInterface } from 'typeorm';
import { WATCHES_STATEMENTS, statementsBypassRunner } from 'src/framework/database/statement-safe';

const CREATE =
  'WITH created AS (INSERT INTO "product" ("name") VALUES ($1) RETURNING *) SELECT * FROM created';
const withSubscribers = (...subscribers: EntitySubscriberInterface[]) =>
  ({ subscribers }) as unknown as DataSource;

class QueryLog implements EntitySubscriberInterface {
  readonly seen: string[] = [];
  afterQuery(event: { query: string }): void {
    this.seen.push(event.query);
  }
}

describe('statementsBypassRunner', () => {
  it('lets a statement bypass the runner when no subscriber listens to query events', () => {
    const onInsert: EntitySubscriberInterface = { afterInsert: () => undefined };
    expect(statementsBypassRunner(withSubscribers(), CREATE)).toBe(true);
    expect(statementsBypassRunner(withSubscribers(onInsert), CREATE)).toBe(true);
  });

  it('keeps every statement in the runner for a subscriber with query events that does not say what it watches', () => {
    expect(statementsBypassRunner(withSubscribers(new QueryLog()), CREATE)).toBe(false);
    // Inherited, and beforeQuery too.
    class Derived extends QueryLog {}
    expect(statementsBypassRunner(withSubscribers(new Derived()), CREATE)).toBe(false);
    expect(statementsBypassRunner(withSubscribers({ beforeQuery: () => undefined }), CREATE)).toBe(false);
  });

  it('asks a subscriber that says what it watches', () => {
    const users = Object.assign(new QueryLog(), {
      [WATCHES_STATEMENTS]: (sql: string) => sql.includes('"user"'),
    });
    expect(statementsBypassRunner(withSubscribers(users), CREATE)).toBe(true);
    expect(statementsBypassRunner(withSubscribers(users), 'INSERT INTO "user" ("email") VALUES ($1)')).toBe(
      false,
    );
    // One subscriber that watches everything is enough to keep it.
    expect(statementsBypassRunner(withSubscribers(users, new QueryLog()), CREATE)).toBe(false);
  });
});
