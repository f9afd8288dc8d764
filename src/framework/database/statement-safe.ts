import type { DataSource, EntitySubscriberInterface } from 'typeorm';

/**
 * Marks a framework TypeORM subscriber that a write made as one statement, outside any transaction, may
 * bypass: it only watches what such a write never does (jobs enqueued or security events logged in a
 * transaction, an Idempotency-Key claim, which the writer checks for), or the writer does its work itself
 * (the resource cache's invalidation). Example: `readonly [STATEMENT_SAFE] = true` on the subscriber class.
 */
export const STATEMENT_SAFE = Symbol.for('nestor:statement-safe-subscriber');

const TRANSACTION_EVENT = /^(before|after)Transaction/;

/**
 * Whether no subscriber of the data source needs to see an INSERT into `target` run by a query builder in
 * a transaction: each is marked STATEMENT_SAFE, or listens to another entity and to no transaction event.
 * Example: `if (subscribersAllowStatement(dataSource, Product)) { … one statement … }`.
 */
export function subscribersAllowStatement(dataSource: DataSource, target: unknown): boolean {
  return dataSource.subscribers.every(
    (subscriber: EntitySubscriberInterface & { [STATEMENT_SAFE]?: boolean }) => {
      if (subscriber[STATEMENT_SAFE] === true) {
        return true;
      }
      const listensTo = subscriber.listenTo?.() as unknown;
      const other =
        typeof listensTo === 'function' &&
        listensTo !== Object &&
        listensTo !== target &&
        !((target as { prototype?: unknown }).prototype instanceof (listensTo as new () => unknown));
      const methods = new Set<string>();
      for (let proto = subscriber as object | null; proto && proto !== Object.prototype;) {
        Object.getOwnPropertyNames(proto).forEach((name) => methods.add(name));
        proto = Object.getPrototypeOf(proto) as object | null;
      }
      return other && ![...methods].some((name) => TRANSACTION_EVENT.test(name));
    },
  );
}
