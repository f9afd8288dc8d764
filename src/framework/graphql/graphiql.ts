import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PROBLEM_TYPES } from 'src/framework/http/problem';
import { sendProblem } from 'src/framework/http/send-problem';
import { escapeHtml } from 'src/framework/mail/templates';
import { packageRoot } from 'src/framework/package-root';

/**
 * The IDE's pages load nothing from another origin: React, GraphiQL, Monaco's workers and fonts are all
 * served from graphiql/dist. `'unsafe-inline'` styles only: Monaco (GraphiQL's editor) writes its theme
 * into `<style>` elements and its layout into `style` attributes at run time, with no nonce or hash to
 * allow them by (without it Chromium blocks dozens of them). Inline scripts stay refused.
 */
export const GRAPHIQL_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "worker-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join(';');

/** Where Vite writes the GraphiQL page (`npm run build`; `npm start` builds it when missing). */
export function graphiqlDistDir(): string {
  return join(packageRoot(), 'graphiql', 'dist');
}

/**
 * Serves the GraphiQL IDE at `/graphiql` from the app itself (graphiql/dist, built by Vite from the
 * `graphiql` package): its page, which runs documents against `endpoint` (GRAPHQL_PATH) with the browser's
 * cookies (the admin session) or the headers typed in its Headers tab, and its long-cached hashed assets.
 * Without a build, `/graphiql` is a 503 naming the fix. Example: `await serveGraphiql(fastify, '/graphql')`.
 */
export async function serveGraphiql(fastify: FastifyInstance, endpoint: string): Promise<void> {
  const root = graphiqlDistDir();
  fastify.addHook('onSend', (_request, reply, payload, done) => {
    void reply.header('content-security-policy', GRAPHIQL_CSP);
    done(null, payload);
  });
  const index = join(root, 'index.html');
  if (!existsSync(index)) {
    fastify.get('/graphiql', (request: FastifyRequest, reply: FastifyReply) =>
      sendProblem(request, reply, {
        type: PROBLEM_TYPES.dependencyDown,
        title: 'GraphiQL not built',
        status: 503,
        detail: 'Run `npm run build` (npm start builds it when missing).',
      }),
    );
    return;
  }
  // The endpoint is written into the page once: it is the same for every request.
  const page = readFileSync(index, 'utf8').replace(
    'data-endpoint="/graphql"',
    `data-endpoint="${escapeHtml(endpoint)}"`,
  );
  await fastify.register(fastifyStatic, {
    root: join(root, 'assets'),
    prefix: '/graphiql/assets/',
    wildcard: false, // only the built files
    decorateReply: false, // the admin UI's registration owns reply.sendFile
    index: false,
    // Vite's hashed assets never change; the page must be revalidated to pick up a new build.
    maxAge: '365d',
    immutable: true,
  });
  fastify.get('/graphiql', (_request, reply: FastifyReply) =>
    reply.header('cache-control', 'no-cache').type('text/html; charset=utf-8').send(page),
  );
}
