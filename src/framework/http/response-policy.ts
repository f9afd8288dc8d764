import type { FastifyInstance } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet, { HelmetOptions } from 'helmet';
import { sessionCookieName } from 'src/framework/http/session-cookie';
import type { NestorConfig } from 'src/framework/config/nestor-config';

/** Which part of the server answers a URL: each gets the headers it needs (docs/security/asvs-l2.md, "Response headers"). */
export type Surface = 'api' | 'admin' | 'docs';

/** `/api/…` and `/admin/api/…` answer JSON; `/admin…` is the SPA; the rest (Swagger UI, probes) is docs. */
export function surfaceOf(url: string): Surface {
  if (url.startsWith('/api/') || url.startsWith('/admin/api/') || url === '/api') {
    return 'api';
  }
  return url === '/admin' || url.startsWith('/admin/') || url.startsWith('/admin?') ? 'admin' : 'docs';
}

/**
 * Helmet's options per surface. JSON never renders: `default-src 'none'` and no framing at all (OWASP's
 * REST Security cheat sheet). The admin SPA runs only its own scripts, with the inline styles MUI's
 * emotion writes, and is never framed (clickjacking a staff session). Swagger UI also needs data: images.
 * HSTS (with subdomains) in production only: a development server on http:// must stay reachable.
 */
export function helmetOptionsFor(surface: Surface, config: Pick<NestorConfig, 'nodeEnv'>): HelmetOptions {
  const hsts = config.nodeEnv === 'production';
  if (surface === 'api') {
    return {
      contentSecurityPolicy: {
        useDefaults: false,
        directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
      },
      frameguard: { action: 'deny' },
      hsts,
    };
  }
  const directives = {
    defaultSrc: ["'self'"],
    styleSrc: ["'self'", "'unsafe-inline'"],
    imgSrc: ["'self'", 'data:'],
    scriptSrc: ["'self'"],
    ...(surface === 'admin' ? { frameAncestors: ["'none'"] } : {}),
  };
  return {
    contentSecurityPolicy: { directives },
    frameguard: { action: surface === 'admin' ? 'deny' : 'sameorigin' },
    hsts,
  };
}

/**
 * Helmet's security headers for these options, computed once. They are static (no per-request CSP nonces or
 * directive functions), and @fastify/helmet rebuilt helmet's middleware, CSP parsing included, on every
 * request: about 5 % of a `GET /api/products/:id`'s CPU in `npm run bench`'s profile.
 */
export function securityHeaders(options: Readonly<HelmetOptions>): Record<string, string> {
  const headers: Record<string, string> = {};
  const response = {
    setHeader: (name: string, value: string | number | readonly string[]) => {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
    },
    removeHeader: (name: string) => {
      delete headers[name.toLowerCase()];
    },
  };
  helmet(options)({} as IncomingMessage, response as unknown as ServerResponse, (error?: unknown) => {
    if (error) {
      throw error instanceof Error ? error : new Error('helmet refused the security header options');
    }
  });
  return headers;
}

/**
 * Authenticated API answers are never stored by a browser or a shared cache (ASVS V8.1.1, V8.2.1): a
 * response to a request that carried a bearer token or the admin session cookie gets
 * `Cache-Control: no-store` unless the handler chose its own. Anonymous public reads are left cacheable.
 * Example: `noStoreWhenAuthenticated(fastify, config)` (createNestorApp does).
 */
export function noStoreWhenAuthenticated(
  fastify: FastifyInstance,
  config: Pick<NestorConfig, 'nodeEnv'>,
): void {
  const cookie = sessionCookieName(config);
  fastify.addHook('onSend', (request, reply, payload, done) => {
    if (
      !reply.hasHeader('cache-control') &&
      surfaceOf(request.url) === 'api' &&
      (request.headers.authorization !== undefined || request.cookies?.[cookie] !== undefined)
    ) {
      void reply.header('cache-control', 'no-store');
    }
    done(null, payload);
  });
}

/**
 * `/.well-known/security.txt` (RFC 9116) when SECURITY_CONTACT and SECURITY_EXPIRES are set: how to report
 * a vulnerability. Plain text, answered for any allowed Host; 404 (problem+json) when not configured.
 * Example: `serveSecurityTxt(fastify, config)`.
 */
export function serveSecurityTxt(fastify: FastifyInstance, config: NestorConfig): void {
  const txt = config.securityTxt;
  if (!txt) {
    return;
  }
  const lines = [
    ...txt.contact.map((uri) => `Contact: ${uri}`),
    `Expires: ${txt.expires.toISOString().replace(/\.\d{3}Z$/, 'Z')}`,
    ...(txt.policy ? [`Policy: ${txt.policy}`] : []),
    ...(txt.languages?.length ? [`Preferred-Languages: ${txt.languages.join(', ')}`] : []),
    `Canonical: ${config.publicUrl}/.well-known/security.txt`,
  ];
  const body = `${lines.join('\n')}\n`;
  fastify.get('/.well-known/security.txt', (_request, reply) =>
    reply.type('text/plain; charset=utf-8').header('cache-control', 'max-age=86400').send(body),
  );
}
