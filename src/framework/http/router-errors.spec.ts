import type { Socket } from 'node:net';
import Fastify, { FastifyInstance } from 'fastify';
import { PROBLEM_TYPES } from 'src/framework/http/problem';
import {
  MAX_URL_LENGTH,
  answerClientError,
  refuseLongUrls,
  routeMiss,
  routerProblem,
} from 'src/framework/http/router-errors';
import { sendProblem } from 'src/framework/http/send-problem';

describe(routeMiss.name, () => {
  let app: FastifyInstance;

  beforeAll(async () => {
    app = Fastify();
    app.get('/things', () => []);
    app.post('/things', () => ({}));
    app.patch('/things/:id', () => ({}));
    app.get('/spa/*', () => 'index.html');
    app.options('*', () => ''); // what @fastify/cors adds for preflights
    app.get('/claimed/:id', (_request, reply) => reply.callNotFound());
    app.setNotFoundHandler((request, reply) => {
      const { problem, headers } = routeMiss(request);
      sendProblem(request, reply, problem, headers);
    });
    await app.ready();
  });
  afterAll(() => app.close());

  it('answers 405 with Allow when the path has routes for other methods', async () => {
    const res = await app.inject({ method: 'PUT', url: '/things?x=1' });

    expect(res.statusCode).toBe(405);
    expect(res.headers.allow).toBe('GET, HEAD, POST');
    expect(res.json()).toMatchObject({
      type: 'about:blank',
      title: 'Method Not Allowed',
      status: 405,
      detail: '/things does not accept PUT; it accepts GET, HEAD, POST.',
      instance: '/things',
    });
  });

  it('matches paths with parameters', async () => {
    const res = await app.inject({ method: 'DELETE', url: '/things/42' });

    expect(res.statusCode).toBe(405);
    expect(res.headers.allow).toBe('PATCH');
  });

  it('answers 404 naming method and path when no route has the path', async () => {
    const res = await app.inject({ method: 'GET', url: '/nothing/here' });

    expect(res.statusCode).toBe(404);
    expect(res.headers.allow).toBeUndefined();
    expect(res.json()).toMatchObject({ status: 404, detail: 'No route matches GET /nothing/here.' });
  });

  it('counts no catch-all route as a resource (an SPA fallback, the CORS preflight)', async () => {
    const res = await app.inject({ method: 'POST', url: '/spa/products' });

    expect(res.statusCode).toBe(404);
  });

  it('keeps a 404 that a matching route asked for', async () => {
    const res = await app.inject({ method: 'GET', url: '/claimed/1' });

    expect(res.statusCode).toBe(404);
  });

  it('clips a long path in detail and instance', async () => {
    const res = await app.inject({ method: 'GET', url: `/${'n'.repeat(5000)}` });

    expect(res.statusCode).toBe(404);
    const body = res.json<{ detail: string; instance: string }>();
    expect(body.detail.length).toBeLessThan(150);
    expect(body.instance.length).toBeLessThanOrEqual(200);
    expect(res.body.length).toBeLessThan(600);
  });
});

describe(routerProblem.name, () => {
  const error = (code: string) => Object.assign(new Error(`'/${'x'.repeat(300)}' is bad`), { code });

  it('maps a path parameter over the router limit to 414 without echoing it', () => {
    const sut = routerProblem(error('FST_ERR_MAX_PARAM_LENGTH'));

    expect(sut).toMatchObject({ type: PROBLEM_TYPES.uriTooLong, status: 414 });
    expect(sut.detail).not.toContain('xxx');
  });

  it('maps bad percent-encoding to 400', () => {
    expect(routerProblem(error('FST_ERR_BAD_URL'))).toMatchObject({
      type: PROBLEM_TYPES.malformedRequest,
      status: 400,
    });
  });

  it('maps anything else to 500', () => {
    expect(routerProblem(error('FST_ERR_ASYNC_CONSTRAINT')).status).toBe(500);
  });
});

describe('refuseLongUrls', () => {
  const run = (url: string): unknown => {
    let result: unknown = 'not called';
    refuseLongUrls.call(
      {} as FastifyInstance,
      { url } as never,
      {} as never,
      (error?: unknown) => (result = error),
    );
    return result;
  };

  it(`passes a URL of ${MAX_URL_LENGTH} characters`, () => {
    expect(run(`/x?q=${'a'.repeat(MAX_URL_LENGTH - 5)}`)).toBeUndefined();
  });

  it('refuses a longer one with a 414 problem', () => {
    expect(run(`/x?q=${'a'.repeat(MAX_URL_LENGTH)}`)).toMatchObject({
      problem: { type: PROBLEM_TYPES.uriTooLong, status: 414 },
    });
  });
});

describe(answerClientError.name, () => {
  const socket = () => {
    const written: string[] = [];
    return {
      written,
      destroyed: false,
      writable: true,
      remoteAddress: '192.0.2.1',
      write: (chunk: string) => written.push(chunk),
      destroy() {
        this.destroyed = true;
      },
    };
  };
  const lines: unknown[] = [];
  const sut = answerClientError(() => ({ info: (line: unknown) => lines.push(line) }) as never);

  it.each([
    ['HPE_HEADER_OVERFLOW', 431, PROBLEM_TYPES.headersTooLarge],
    ['ERR_HTTP_REQUEST_TIMEOUT', 408, 'about:blank'],
    ['HPE_INVALID_METHOD', 400, PROBLEM_TYPES.malformedRequest],
  ])('answers %s with a %d problem and closes the connection', (code, status, type) => {
    const s = socket();

    sut(Object.assign(new Error('Parse Error'), { code }), s as unknown as Socket);

    const [head, body] = s.written[0].split('\r\n\r\n');
    expect(head).toMatch(new RegExp(`^HTTP/1.1 ${status} `));
    expect(head).toContain('Content-Type: application/problem+json');
    expect(head).toContain('Connection: close');
    const problem = JSON.parse(body) as { requestId: string };
    expect(problem).toMatchObject({ type, status, requestId: expect.any(String) });
    expect(head).toContain(`X-Request-Id: ${problem.requestId}`);
    expect(Buffer.byteLength(body)).toBe(Number(/Content-Length: (\d+)/.exec(head)![1]));
    expect(s.destroyed).toBe(true);
    expect(lines.at(-1)).toMatchObject({ requestId: problem.requestId, statusCode: status, code });
  });

  it('leaves a reset connection alone', () => {
    const s = socket();

    sut(Object.assign(new Error('reset'), { code: 'ECONNRESET' }), s as unknown as Socket);

    expect(s.written).toEqual([]);
  });
});
