import type { DataSource, EntitySubscriberInterface } from 'typeorm';

/**
 * Marks a framework TypeORM subscriber that a write made as one statement, outside any transaction, may
 * bypass: it only watches what such a write never does (jobs enqueued or security events logged in a
 * transaction, an Idempotency-Key claim, which the writer checks for), or the writer does its work itself
 * (the resource cache's invalidation). Example: `readonly [STATEMENT_SAFE] = true` on the subscriber class.
 */
export const STATEMENT_SAFE = Symbol.for('nestor:statement-safe-subscriber');

/**
 * Marks a subscriber whose query events (`beforeQuery`, `afterQuery`) matter for some statements only: the
 * function says which. A statement that no subscriber watches may run outside TypeORM's query runner, as a
 * prepared statement (see statementsBypassRunner). Example: `readonly [WATCHES_STATEMENTS] = writesPrincipals`.
 */
export const WATCHES_STATEMENTS = Symbol.for('nestor:watches-statements');

const TRANSACTION_EVENT = /^(before|after)Transaction/;
const QUERY_EVENT = /^(before|after)Query$/;

type Subscriber = EntitySubscriberInterface & {
  [STATEMENT_SAFE]?: boolean;
  [WATCHES_STATEMENTS]?: (sql: string) => boolean;
};

/** Which TypeORM events a subscriber has, among those that decide how a statement may run. */
interface Events {
  query: boolean;
  transaction: boolean;
}

/** Per subscriber: asked on every generated read and create, so worked out once. */
const eventsBySubscriber = new WeakMap<object, Events>();

/** The query and transaction events among a subscriber's methods, its classes' included. */
function eventsOf(subscriber: object): Events {
  let events = eventsBySubscriber.get(subscriber);
  if (!events) {
    const methods: string[] = [];
    for (let proto: object | null = subscriber; proto && proto !== Object.prototype;) {
      methods.push(...Object.getOwnPropertyNames(proto));
      proto = Object.getPrototypeOf(proto) as object | null;
    }
    events = {
      query: methods.some((name) => QUERY_EVENT.test(name)),
      transaction: methods.some((name) => TRANSACTION_EVENT.test(name)),
    };
    eventsBySubscriber.set(subscriber, events);
  }
  return events;
}

/**
 * Whether `sql` may run without TypeORM's query runner, which broadcasts `beforeQuery` and `afterQuery`:
 * no subscriber listens to them, or each that does says (WATCHES_STATEMENTS) it does not watch `sql`.
 * Example: `statementsBypassRunner(dataSource, 'WITH created AS (INSERT INTO "product" …')`.
 */
export function statementsBypassRunner(dataSource: DataSource, sql: string): boolean {
  return dataSource.subscribers.every((subscriber: Subscriber) => {
    if (!eventsOf(subscriber).query) {
      return true;
    }
    const watches = subscriber[WATCHES_STATEMENTS];
    return typeof watches === 'function' && !watches(sql);
  });
}

/**
 * Whether no subscriber of the data source needs to see an INSERT into `target` run by a query builder in
 * a transaction: each is marked STATEMENT_SAFE, or listens to another entity and to no transaction event.
 * Example: `if (subscribersAllowStatement(dataSource, Product)) { … one statement … }`.
 */
export function subscribersAllowStatement(dataSource: DataSource, target: unknown): boolean {
  return dataSource.subscribers.every((subscriber: Subscriber) => {
    if (subscriber[STATEMENT_SAFE] === true) {
      return true;
    }
    const listensTo = subscriber.listenTo?.() as unknown;
    const other =
      typeof listensTo === 'function' &&
      listensTo !== Object &&
      listensTo !== target &&
      !((target as { prototype?: unknown }).prototype instanceof (listensTo as new () => unknown));
    return other && !eventsOf(subscriber).transaction;
  });
}
