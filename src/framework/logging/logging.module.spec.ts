import { Writable } from 'node:stream';
import Fastify, { FastifyInstance } from 'fastify';
import { pinoHttp } from 'pino-http';
import { NestorConfig } from 'src/framework/config/nestor-config';
import { logRequests, loggerOptions } from 'src/framework/logging/logging.module';

describe('logRequests', () => {
  const lines: Record<string, unknown>[] = [];
  let app: FastifyInstance;

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        callback();
      },
    });
    const config = { logLevel: 'info', nodeEnv: 'production' } as NestorConfig;
    const logger = pinoHttp({ ...loggerOptions(config), stream: sink }).logger;
    app = Fastify({ genReqId: (req) => String(req.headers['x-request-id'] ?? 'generated') });
    logRequests(app, logger);
    app.get('/api/things/:id', () => ({ ok: true }));
    app.get('/boom', () => {
      throw new Error('boom');
    });
    app.get('/health/live', () => ({ status: 'ok' }));
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

  it('logs a 5xx at error level and leaves liveness probes out', async () => {
    await app.inject({ url: '/boom', headers: { 'x-request-id': 'trace-2' } });
    await app.inject({ url: '/health/live' });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 50, req: { id: 'trace-2' }, res: { statusCode: 500 } });
  });
});
