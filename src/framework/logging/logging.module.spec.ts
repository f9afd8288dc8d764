import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import Fastify, { FastifyInstance } from 'fastify';
import { type BaseLogger, pino } from 'pino';
import { pinoHttp } from 'pino-http';
import { QueryFailedError } from 'typeorm';
import { NestorConfig } from 'src/framework/config/nestor-config';
import { logDestination, logRequests, loggerOptions } from 'src/framework/logging/logging.module';

describe('logRequests', () => {
  const lines: Record<string, unknown>[] = [];
  let app: FastifyInstance;
  let logger: BaseLogger;
  let seenHeaders: Record<string, unknown> | undefined;

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        callback();
      },
    });
    const config = { logLevel: 'info', nodeEnv: 'production' } as NestorConfig;
    logger = pinoHttp({ ...loggerOptions(config), stream: sink }).logger;
    app = Fastify({ genReqId: (req) => String(req.headers['x-request-id'] ?? 'generated') });
    logRequests(app, logger);
    app.get('/api/things/:id', () => ({ ok: true }));
    app.get('/boom', () => {
      throw new Error('boom');
    });
    app.get('/health/live', () => ({ status: 'ok' }));
    app.get('/signed-in', (request, reply) => {
      seenHeaders = request.headers;
      void reply.header('set-cookie', 'sid=sekrit; HttpOnly');
      return { ok: true };
    });
    await app.ready();
  });

  afterAll(() => app.close());
  beforeEach(() => lines.splice(0));

  it('logs one line per request with its id, status and time, and redacts credentials', async () => {
    await app.inject({
      url: '/api/things/7?fields=name',
      headers: { 'x-request-id': 'trace-1', authorization: 'Bearer sekrit', cookie: 'sid=sekrit' },
    });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 30,
      msg: 'request completed',
      req: {
        id: 'trace-1',
        method: 'GET',
        url: '/api/things/7?fields=name',
        headers: { authorization: '[redacted]', cookie: '[redacted]' },
      },
      res: { statusCode: 200 },
    });
    expect(typeof lines[0].responseTime).toBe('number');
    expect(JSON.stringify(lines)).not.toContain('sekrit');
  });

  it('redacts API keys, CSRF tokens and Set-Cookie, leaving the request itself as it was sent', async () => {
    await app.inject({
      url: '/signed-in',
      headers: {
        'x-request-id': 'trace-2',
        'x-api-key': 'nst_sekrit',
        'x-csrf-token': 'sekrit',
        accept: 'a/b',
      },
    });

    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      req: { headers: { 'x-api-key': '[redacted]', 'x-csrf-token': '[redacted]', accept: 'a/b' } },
      res: { statusCode: 200, headers: { 'set-cookie': '[redacted]' } },
    });
    expect(JSON.stringify(lines)).not.toContain('sekrit');
    expect(seenHeaders).toMatchObject({ 'x-api-key': 'nst_sekrit', 'x-csrf-token': 'sekrit' });
  });

  it('redacts secrets sent in the query string, keeping the rest of the URL', async () => {
    await app.inject({
      url: '/api/things/7?fields=name&token=t0k3n&refreshToken=r3fr3sh&password=pa55&otp=123456&api_key=nst_k3y',
      headers: { 'x-request-id': 'trace-3' },
    });

    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      req: {
        url: '/api/things/7?fields=name&token=[redacted]&refreshToken=[redacted]&password=[redacted]&otp=[redacted]&api_key=[redacted]',
      },
    });
    expect(JSON.stringify(lines)).not.toMatch(/t0k3n|r3fr3sh|pa55|123456|nst_k3y/);
  });

  it("keeps a failed query's parameters out of an error's log line", () => {
    const error = new QueryFailedError(
      'UPDATE "user" SET "passwordHash" = $1',
      ['$argon2id$sekrit'],
      new Error(),
    );

    logger.error({ err: error }, 'Unhandled error');

    expect(lines[0]).toMatchObject({
      err: { query: 'UPDATE "user" SET "passwordHash" = $1', parameters: '[redacted]' },
    });
    expect(JSON.stringify(lines)).not.toContain('sekrit');
  });

  it('logs a 5xx at error level and leaves liveness probes out', async () => {
    await app.inject({ url: '/boom', headers: { 'x-request-id': 'trace-2' } });
    await app.inject({ url: '/health/live' });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 50, req: { id: 'trace-2' }, res: { statusCode: 500 } });
  });
});

describe('logDestination', () => {
  it('has written a line when the logging call returns, so a crash right after loses none', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nestor-log-'));
    const file = join(dir, 'out.log');
    const destination = logDestination(file);
    try {
      const logger = pino({}, destination);
      logger.info({ n: 1 }, 'first');
      logger.warn('second');
      const lines = readFileSync(file, 'utf8').trim().split('\n');
      expect(lines.map((line) => (JSON.parse(line) as { msg: string }).msg)).toEqual(['first', 'second']);
    } finally {
      (destination as unknown as { end(): void }).end(); // closes the file even when an expectation failed
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
