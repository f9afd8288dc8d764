import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { PROBLEM_TYPES } from 'src/framework/http/problem';
import { packageRoot } from 'src/framework/package-root';
import { pathOf, sendProblem } from 'src/framework/http/send-problem';

/** Where Vite writes the admin UI (`npm run build`). */
export function adminDistDir(): string {
  return join(packageRoot(), 'admin', 'dist');
}

/** Whether a URL is in the admin's API (`/admin/api`, `/admin/api/…`), which the SPA fallback never answers. */
function isAdminApi(url: string): boolean {
  const path = pathOf(url);
  return path === '/admin/api' || path.startsWith('/admin/api/');
}

/**
 * Serves the built admin SPA at `/admin`: its files (long-cached hashed assets), and `index.html` for any
 * other `GET /admin/…` so client-side routes survive a reload. `/admin/api` and everything under it belong
 * to the admin's API routes (the router prefers them over the wildcard): a path none of them matches is a
 * 404 problem, never the SPA's HTML. Without a build, `/admin` is a 503 naming the fix.
 */
export async function serveAdminUi(app: NestFastifyApplication): Promise<void> {
  const root = adminDistDir();
  const fastify = app.getHttpAdapter().getInstance();
  if (!existsSync(join(root, 'index.html'))) {
    const notBuilt = (request: FastifyRequest, reply: FastifyReply): void => {
      if (isAdminApi(request.url)) {
        reply.callNotFound();
        return;
      }
      sendProblem(request, reply, {
        type: PROBLEM_TYPES.dependencyDown,
        title: 'Admin UI not built',
        status: 503,
        detail: 'Run `npm run build` (npm start builds it when missing).',
      });
    };
    fastify.get('/admin', notBuilt);
    fastify.get('/admin/*', notBuilt);
    return;
  }
  await app.register(fastifyStatic, {
    root,
    prefix: '/admin/',
    wildcard: false, // only the built files; other paths fall through to the SPA handler below
    index: false,
    // Vite's hashed assets never change; index.html must be revalidated to pick up a new build.
    maxAge: '365d',
    immutable: true,
  });
  const spa = (request: FastifyRequest, reply: FastifyReply): FastifyReply | void =>
    isAdminApi(request.url)
      ? reply.callNotFound()
      : reply.header('cache-control', 'no-cache').sendFile('index.html', root, { cacheControl: false });
  fastify.get('/admin', spa);
  fastify.get('/admin/', spa);
  fastify.get('/admin/*', spa);
}
