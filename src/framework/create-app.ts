import type { IncomingMessage, Server } from 'node:http';
import { Server as NetServer } from 'node:net';
import cookie from '@fastify/cookie';
import type { DynamicModule, LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import { Logger, PinoLogger } from 'nestjs-pino';
import * as qs from 'qs';
import { serveAdminUi } from 'src/framework/admin/admin-ui';
import { SecurityEvents } from 'src/framework/auth/security-events';
import { NestorConfig } from 'src/framework/config/nestor-config';
import { readTlsCredentials } from 'src/framework/config/tls';
import { refuseDisallowedHosts } from 'src/framework/http/allowed-hosts';
import { redirectPlainHttp } from 'src/framework/http/https-redirect';
import { requestIdOf, runWithRequestId } from 'src/framework/http/request-id';
import { answerClientError, refuseLongUrls, routerProblem } from 'src/framework/http/router-errors';
import { sendProblem } from 'src/framework/http/send-problem';
import {
  helmetOptionsFor,
  noStoreWhenAuthenticated,
  securityHeaders,
  serveSecurityTxt,
  surfaceOf,
} from 'src/framework/http/response-policy';
import { logRequest, logRequests } from 'src/framework/logging/logging.module';
import { NestorLogger } from 'src/framework/logging/nestor-logger';
import { MetricsService } from 'src/framework/metrics/metrics.service';
import { setupOpenApi } from 'src/framework/openapi/openapi';
import { sendVersionHeaders } from 'src/framework/resource/resource-versions';

/** Key segments qs drops silently (`allowPrototypes: false`): kept visible so allow-lists refuse them. */
const PROTOTYPE_KEY = /(^|\[)(__proto__|constructor|prototype)(\]|\[|$)/;

/**
 * Limits for the query string: `filter[price][gte]=10` nests, but never deeper than the language needs.
 * `constructor[x]=1` or `filter[__proto__]=1` cannot touch a prototype, and is not ignored either: the key
 * comes back under a `$`-prefixed name (`$constructor`), so the resource's allow-list answers 400 naming it.
 */
export function parseQueryString(query: string): Record<string, unknown> {
  const options = { depth: 3, arrayLimit: 50, parameterLimit: 200, allowPrototypes: false };
  if (!query.includes('proto') && !query.includes('constructor')) {
    return qs.parse(query, options);
  }
  const renamed = query
    .split('&')
    .map((pair) => {
      const at = pair.indexOf('=');
      const key = at === -1 ? pair : pair.slice(0, at);
      let decoded: string;
      try {
        decoded = decodeURIComponent(key.replace(/\+/g, ' '));
      } catch {
        return pair;
      }
      if (!PROTOTYPE_KEY.test(decoded)) {
        return pair;
      }
      const safe = decoded.replace(/(^|\[)(__proto__|constructor|prototype)(?=\]|\[|$)/g, '$1$$$2');
      return `${encodeURIComponent(safe)}${at === -1 ? '' : pair.slice(at)}`;
    })
    .join('&');
  return qs.parse(renamed, options);
}

/** Fastify instances whose responses close their connection: draining (drainHttp) or closing. */
const draining = new WeakSet<object>();

/**
 * Drains a listening app before `app.close()`: stops accepting connections, answers every request still
 * arriving on an open keep-alive connection normally but with `Connection: close`, and resolves once every
 * connection has ended or after `graceMs`. Example: `await drainHttp(app, 2_000); await app.close();`.
 */
export async function drainHttp(app: NestFastifyApplication, graceMs: number): Promise<void> {
  const server: Server = app.getHttpServer();
  draining.add(app.getHttpAdapter().getInstance());
  if (!server.listening) {
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  const ended = new Promise<void>((resolve) => server.once('close', () => resolve()));
  // net.Server#close only stops accepting. http.Server#close (which app.close() ends with) also destroys the
  // keep-alive connections idle at that instant, and a client that sent its next request on one at the same
  // moment gets ECONNRESET for a request it cannot know was never received. Here a connection that is busy,
  // or whose client sends again within the grace, ends after a response that says so.
  NetServer.prototype.close.call(server);
  await Promise.race([ended, new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
  clearTimeout(timer);
}

/**
 * With TLS_CERT_FILE/TLS_KEY_FILE: Fastify on Node's HTTP/2 server, which also answers HTTP/1.1 clients
 * (ALPN picks `h2` or `http/1.1`), with Nestor's TLS policy (TLS 1.2+, Mozilla's intermediate ciphers).
 */
function tlsServerOptions(config: NestorConfig): object {
  if (!config.tls) {
    return {};
  }
  return { http2: true, https: { allowHTTP1: true, ...readTlsCredentials(config.tls) } };
}

/** How a caller other than the server builds the app (the `nestor` commands that need routes). */
export interface CreateAppOptions {
  /** Nest's log lines go here instead of the JSON logger. */
  logger?: LoggerService;
  /** `false`: a failed boot is thrown to the caller instead of logged and ended with exit 1 (Nest's default). */
  abortOnError?: boolean;
}

/**
 * Creates (but does not start) the HTTP application for a root module: Fastify with Nestor's body limit,
 * query parser, request ids, security headers, the ALLOWED_HOSTS check, CORS, metrics and OpenAPI docs. Signals are the entry point's:
 * serveHttp drains (drainHttp) then closes the app on SIGTERM/SIGINT.
 * Example: `const app = await createNestorApp(AppModule.forRoot(config), config); await app.listen(config.port)`.
 */
export async function createNestorApp(
  module: DynamicModule,
  config: NestorConfig,
  options: CreateAppOptions = {},
): Promise<NestFastifyApplication> {
  const { security, hsts } = surfaceHeaders(config);
  // No Nest body parsers: they add application/x-www-form-urlencoded, which no route of a JSON API takes
  // (415, as for multipart); Fastify's own JSON parser, with its prototype-poisoning checks, stays.
  const app = await NestFactory.create<NestFastifyApplication>(module, fastifyAdapter(config, security), {
    bufferLogs: true,
    bodyParser: false,
    abortOnError: options.abortOnError,
  });
  app.useLogger(options.logger ?? new NestorLogger(app.get(Logger)));
  app.flushLogs();
  const fastify = app.getHttpAdapter().getInstance();
  observeRequests(app, fastify);
  sendVersionHeaders(fastify); // before app.init() registers the routes
  await app.register(cookie); // the admin session cookie (SessionService)
  applyResponsePolicy(app, fastify, config, security, hsts);
  if (config.docs === 'public') {
    setupOpenApi(app);
  }
  await serveAdminUi(app);
  // No app.enableShutdownHooks(): the entry points own the signals (bootstrap.ts closeOnSignals). Nest's
  // handler would start app.close() at once, before the HTTP drain, and end with process.kill(pid, signal).
  return app;
}

type SurfaceHeaders = Record<'api' | 'admin' | 'docs', Record<string, string>>;

/** Security headers per surface (JSON API, admin SPA, docs), computed once (response-policy.ts), and HSTS. */
function surfaceHeaders(config: NestorConfig): { security: SurfaceHeaders; hsts: string | undefined } {
  const security = Object.fromEntries(
    (['api', 'admin', 'docs'] as const).map((surface) => [
      surface,
      securityHeaders(helmetOptionsFor(surface, config)),
    ]),
  ) as SurfaceHeaders;
  // HSTS only on responses that travelled over HTTPS (RFC 6797 §7.2: a browser ignores it over HTTP, and a
  // plain-HTTP answer cannot be trusted to set it anyway); the value is helmet's, the same for each surface.
  const hsts = security.api['strict-transport-security'];
  Object.values(security).forEach((headers) => delete headers['strict-transport-security']);
  return { security, hsts };
}

/** Fastify with Nestor's body limit, query parser, request ids, TLS and its own answers to bad requests. */
function fastifyAdapter(config: NestorConfig, security: SurfaceHeaders): FastifyAdapter {
  // The router's own errors (bad percent-encoding, a path parameter over 100 characters) leave before any
  // hook or handler runs, and would otherwise be Fastify's JSON echoing the whole path.
  const frameworkErrors: FastifyServerOptions['frameworkErrors'] = (error, request, reply) => {
    void reply.headers(security[surfaceOf(request.url)]).header('x-request-id', request.id);
    sendProblem(request, reply, routerProblem(error));
    logRequest(PinoLogger.root, request, reply);
  };
  const adapter = new FastifyAdapter({
    ...tlsServerOptions(config),
    bodyLimit: config.bodyLimit,
    // Fastify accepts a hop count too; Nest's option type omits it.
    trustProxy: config.trustProxy as boolean | string[],
    routerOptions: { querystringParser: parseQueryString },
    genReqId: (req: IncomingMessage) => requestIdOf(req),
    // Request logging is nestjs-pino's job; Fastify's own logger stays off.
    logger: false,
    // A request the server received is answered normally while it shuts down (with `Connection: close`):
    // the listener is closed first (drainHttp), so only requests already on their way still arrive, and a
    // 503 would fail them although this process can still serve them.
    return503OnClosing: false,
    // A request without Host is refused by refuseDisallowedHosts, as a problem (Node's 400 has no body).
    http: { requireHostHeader: false },
    frameworkErrors,
    // Requests Node's HTTP parser refuses (431, 408, not HTTP) never reach Fastify: answered here.
    clientErrorHandler: answerClientError(() => PinoLogger.root),
  });
  // A JSON API: a text/plain body is refused with 415 rather than validated as a string.
  adapter.getInstance().removeContentTypeParser('text/plain');
  return adapter;
}

/** Request ids, metrics, request logs, security events and the `Connection: close` of a draining server. */
function observeRequests(app: NestFastifyApplication, fastify: FastifyInstance): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id);
    done();
  });
  // The handler and what it calls (JobsService.enqueue) see the request id.
  fastify.addHook('preHandler', (request, _reply, done) => runWithRequestId(request.id, done));
  app.get(MetricsService).instrument(fastify);
  logRequests(fastify, PinoLogger.root);
  app.get(SecurityEvents).watchResponses(fastify); // access.denied / credential.rejected (ASVS V7.2)
  // While shutting down, answer in-flight requests with `Connection: close` so keep-alive clients
  // release their sockets at once instead of holding the process open until their idle timeout.
  fastify.addHook('preClose', (done) => {
    draining.add(fastify);
    done();
  });
  fastify.addHook('onSend', (request, reply, payload, done) => {
    // HTTP/2 has no Connection header (a GOAWAY ends its sessions when the server closes).
    if (draining.has(fastify) && request.raw.httpVersionMajor === 1) {
      void reply.header('connection', 'close');
    }
    done(null, payload);
  });
}

/** Security headers, no-store, security.txt, URL and Host checks, the HTTPS redirect and CORS. */
function applyResponsePolicy(
  app: NestFastifyApplication,
  fastify: FastifyInstance,
  config: NestorConfig,
  security: SurfaceHeaders,
  hsts: string | undefined,
): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    void reply.headers(security[surfaceOf(request.url)]);
    if (hsts && request.protocol === 'https') {
      void reply.header('strict-transport-security', hsts);
    }
    done();
  });
  noStoreWhenAuthenticated(fastify, config);
  serveSecurityTxt(fastify, config);
  fastify.addHook('onRequest', refuseLongUrls);
  refuseDisallowedHosts(fastify, config.allowedHosts, PinoLogger.root);
  if (config.httpsRedirect) {
    redirectPlainHttp(fastify, config);
  }
  if (config.corsOrigins.length > 0) {
    app.enableCors({
      origin: config.corsOrigins.includes('*') ? true : [...config.corsOrigins],
      credentials: !config.corsOrigins.includes('*'),
      exposedHeaders: [
        'x-request-id',
        'location',
        'etag',
        'retry-after',
        'x-ratelimit-limit',
        'x-ratelimit-remaining',
        'x-ratelimit-reset',
        'idempotent-replayed',
      ],
    });
  }
}
