import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** Incoming ids are echoed only when they are short and plain, so they cannot forge log lines. */
const ACCEPTABLE = /^[A-Za-z0-9._:-]{1,128}$/;
const ids = new WeakMap<IncomingMessage, string>();

/**
 * The request id of a raw request: its `X-Request-Id` when acceptable, else a new UUID. Fastify and the
 * request logger both call this, so the id in logs, `request.id` and the response header is one value.
 */
export function requestIdOf(req: IncomingMessage): string {
  let id = ids.get(req);
  if (!id) {
    const header = req.headers['x-request-id'];
    id = typeof header === 'string' && ACCEPTABLE.test(header) ? header : randomUUID();
    ids.set(req, id);
  }
  return id;
}
