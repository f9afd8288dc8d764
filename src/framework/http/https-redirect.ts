import { Server, createServer } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { NestorConfig } from 'src/framework/config/nestor-config';
import { hostAllowed } from 'src/framework/http/allowed-hosts';

/**
 * Probes and scrapes reach a process directly, in plain HTTP, whatever the public scheme (Django's
 * SECURE_REDIRECT_EXEMPT): they are answered, not redirected.
 */
const NOT_REDIRECTED = new Set(['/health/live', '/health/ready', '/metrics']);

type RedirectConfig = Pick<NestorConfig, 'tls' | 'port' | 'allowedHosts'>;

/**
 * The https:// address of a request that came in plain HTTP: the same host name and path, on PORT when this
 * process serves TLS itself (no port when it is 443), else on the default port the proxy serves HTTPS on.
 * Example: `httpsLocation('shop.example:8080', '/a?b=1', config)` → `https://shop.example:8443/a?b=1`.
 */
export function httpsLocation(host: string, url: string, config: Pick<NestorConfig, 'tls' | 'port'>): string {
  const hostname = host.replace(/:\d+$/, '');
  const port = config.tls && config.port !== 443 ? `:${config.port}` : '';
  return `https://${hostname}${port}${url}`;
}

/**
 * HTTPS_REDIRECT=true: a request the app sees as plain HTTP (Fastify's `request.protocol`, which believes
 * X-Forwarded-Proto only from a TRUST_PROXY address) gets a 308 to the same URL over HTTPS; 308 keeps the
 * method and body of a POST. Registered after the ALLOWED_HOSTS check, so the Location never names a host
 * the app does not serve. Example: `redirectPlainHttp(fastify, config)` (createNestorApp does).
 */
export function redirectPlainHttp(fastify: FastifyInstance, config: RedirectConfig): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    if (request.protocol === 'https' || NOT_REDIRECTED.has(request.url.split('?')[0])) {
      done();
      return;
    }
    void reply
      .code(308)
      .header('location', httpsLocation(request.host, request.url, config))
      .send();
  });
}

/**
 * The plain-HTTP listener beside a TLS server (HTTP_PORT): it only redirects to HTTPS on PORT, 308 for an
 * allowed host and 400 for any other Host (so it cannot be used to send browsers elsewhere). Example:
 * `createRedirectServer(config).listen(config.httpPort, config.host)` (serveHttp does).
 */
export function createRedirectServer(config: RedirectConfig): Server {
  return createServer({ requireHostHeader: false }, (request, response) => {
    const host = request.headers.host;
    if (!host || !hostAllowed(host, config.allowedHosts)) {
      response.writeHead(400, { 'content-type': 'text/plain', connection: 'close' }).end('Bad Host\n');
      return;
    }
    response
      .writeHead(308, { location: httpsLocation(host, request.url ?? '/', config), 'content-length': 0 })
      .end();
  });
}
