import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** Incoming ids are echoed only when they are short and plain, so they cannot forge log lines. */
const ACCEPTABLE = /^[A-Za-z0-9._:-]{1,128}$/;
/** The id on the raw request itself: a WeakMap entry per request cost the garbage collector more. */
const ID = Symbol('nestor:request-id');

/**
 * The request id of a raw request: its `X-Request-Id` when acceptable, else a new UUID. Fastify and the
 * request logger both call this, so the id in logs, `request.id` and the response header is one value.
 */
export function requestIdOf(req: IncomingMessage): string {
  const holder = req as IncomingMessage & { [ID]?: string };
  let id = holder[ID];
  if (!id) {
    const header = req.headers['x-request-id'];
    id = typeof header === 'string' && ACCEPTABLE.test(header) ? header : randomUUID();
    holder[ID] = id;
  }
  return id;
}

const handling = new AsyncLocalStorage<string>();

/**
 * Runs `next` (the rest of a request's handling) with `id` as the current request id. createNestorApp calls
 * it from a `preHandler` hook, after the body is read: stream events would lose the context before that.
 * Example: `fastify.addHook('preHandler', (request, _reply, done) => runWithRequestId(request.id, done))`.
 */
export function runWithRequestId<T>(id: string, next: () => T): T {
  return handling.run(id, next);
}

/**
 * The id of the request being handled, or undefined outside one (a job, a command). Jobs record it when
 * enqueued, so a worker's log lines lead back to the request. Example: `currentRequestId() ?? null`.
 */
export function currentRequestId(): string | undefined {
  return handling.getStore();
}
