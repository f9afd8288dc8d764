import { connect } from 'node:net';
import { DataSource } from 'typeorm';
import { AppModule } from 'src/app.module';
import { PROBLEM_TYPES, Problem } from 'src/framework/http/problem';
import { MAX_URL_LENGTH } from 'src/framework/http/router-errors';
import { TestApp, createTestApp } from 'src/framework/testing';

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** What the client got back, however the server answered: Nest, Fastify's router or Node's parser. */
interface Answer {
  status: number;
  header(name: string): string | null;
  body: string;
}

/** Any input a test sends that a problem must not echo: a run of one letter no message contains. */
const LONG = (letter: string, length: number): string => letter.repeat(length);

/**
 * Router and parser errors over a real socket: every one is an RFC 9457 problem (type, title, status,
 * detail, requestId; instance when the request line was read) that echoes at most a clipped piece of the
 * input. These come from Node's HTTP parser, Fastify's router and content-type parsers, before any
 * Nest handler runs, so `inject` alone would not prove them.
 */
describe('HTTP errors on a listening server', () => {
  let t: TestApp;
  let port: number;
  let base: string;

  beforeAll(async () => {
    t = await createTestApp(AppModule.forRoot, { env: { BODY_LIMIT: '64kb' } });
    await t.app.listen(0, '127.0.0.1');
    port = (t.app.getHttpServer().address() as { port: number }).port;
    base = `http://127.0.0.1:${port}`;
  });
  afterAll(() => t.close());

  const request = async (path: string, init: RequestInit = {}): Promise<Answer> => {
    const res = await fetch(`${base}${path}`, init);
    return { status: res.status, header: (name) => res.headers.get(name), body: await res.text() };
  };

  /** Writes `text` on a fresh connection and parses what comes back before the server closes it. */
  const raw = (text: string): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => socket.end(text));
      let data = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (data += chunk));
      socket.on('error', reject);
      socket.on('close', () => {
        const [head, ...rest] = data.split('\r\n\r\n');
        const [statusLine, ...lines] = head.split('\r\n');
        const parsed: RawResponse = {
          status: Number(statusLine.split(' ')[1]),
          headers: Object.fromEntries(
            lines.map((line) => {
              const colon = line.indexOf(':');
              return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
            }),
          ),
          body: rest.join('\r\n\r\n'),
        };
        resolve({
          status: parsed.status,
          header: (name) => parsed.headers[name] ?? null,
          body: parsed.body,
        });
      });
    });

  /** The RFC 9457 envelope every error shares; `echo` is input that must not come back whole. */
  const problem = (res: Answer, status: number, echo?: string): Problem => {
    expect(res.status).toBe(status);
    expect(res.header('content-type')).toMatch(/^application\/problem\+json/);
    expect(res.header('x-content-type-options')).toBe('nosniff');
    const body = JSON.parse(res.body) as Problem;
    expect(body).toMatchObject({
      type: expect.any(String),
      title: expect.any(String),
      status,
      detail: expect.any(String),
      requestId: res.header('x-request-id'),
    });
    if (echo) {
      expect(res.body.length).toBeLessThan(1_000);
      expect(res.body).not.toContain(echo.slice(0, 300));
    }
    return body;
  };

  describe('404 and 405 (the router)', () => {
    it('answers an unknown path with 404, clipping a long path in detail and instance', async () => {
      const path = `/api/${LONG('q', 3_000)}`;
      const body = problem(await request(path), 404, path);

      expect(body.type).toBe('about:blank');
      expect(body.detail).toMatch(/^No route matches GET \/api\/q+…\.$/);
      expect(body.instance).toMatch(/^\/api\/q+…$/);
    });

    it('answers a known path with another method with 405 and Allow', async () => {
      const put = await request('/api/products', { method: 'PUT', body: '{}' });
      expect(put.header('allow')).toBe('GET, HEAD, POST');
      expect(problem(put, 405)).toMatchObject({ title: 'Method Not Allowed', instance: '/api/products' });

      const byId = await request('/api/products/1', { method: 'PUT' });
      expect(problem(byId, 405).status).toBe(405);
      expect(byId.header('allow')).toBe('GET, HEAD, PATCH, DELETE');

      const restore = await request('/api/products/1/restore');
      expect(problem(restore, 405).status).toBe(405);
      expect(restore.header('allow')).toBe('POST');
    });

    it('answers an unknown /admin/api path with a 404 problem, not the admin page, for any method', async () => {
      for (const [method, path] of [
        ['GET', '/admin/api/whatever'],
        ['GET', '/admin/api'],
        ['GET', '/admin/api/jobs/nothing/here'],
        ['POST', '/admin/api/whatever'],
        ['DELETE', '/admin/api/whatever/1'],
      ]) {
        const res = await request(path, { method });
        expect(res.body).not.toContain('<html');
        expect(problem(res, 404).detail).toBe(`No route matches ${method} ${path}.`);
      }
    });
  });

  describe('414 (the router and the URL limit)', () => {
    it('answers an id of 300 characters with a 414 problem that does not echo it', async () => {
      const id = LONG('i', 300);
      const body = problem(await request(`/api/products/${id}`), 414, id);

      expect(body).toMatchObject({ type: PROBLEM_TYPES.uriTooLong, instance: expect.stringMatching(/…$/) });
    });

    it(`answers a URL over ${MAX_URL_LENGTH} characters with a 414 problem`, async () => {
      const q = LONG('u', MAX_URL_LENGTH);
      const body = problem(await request(`/api/products?q=${q}`), 414, q);

      expect(body).toMatchObject({ type: PROBLEM_TYPES.uriTooLong, instance: '/api/products' });
    });

    it(`still answers a URL of ${MAX_URL_LENGTH} characters`, async () => {
      const path = '/api/products?q=';
      const res = await request(`${path}${LONG('v', MAX_URL_LENGTH - path.length)}`);

      expect(res.status).toBe(400); // the resource's own limit on q, not the URL's
      expect(problem(res, 400).type).toBe(PROBLEM_TYPES.badQuery);
    });
  });

  describe('400, 408 and 431 (Node’s HTTP parser)', () => {
    it('answers a request line and headers over 16 KiB with a 431 problem', async () => {
      const big = LONG('h', 20_000);
      const res = await raw(`GET /api/products HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${big}\r\n\r\n`);
      const body = problem(res, 431, big);

      expect(body.type).toBe(PROBLEM_TYPES.headersTooLarge);
      expect(res.header('connection')).toBe('close');
    });

    it('answers a 20 KiB URL with a 431 problem too (Node counts the request line in its limit)', async () => {
      const q = LONG('w', 20_000);
      const res = await raw(`GET /api/products?q=${q} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);

      expect(problem(res, 431, q).type).toBe(PROBLEM_TYPES.headersTooLarge);
    });

    it('answers bytes that are not HTTP with a 400 problem', async () => {
      const res = await raw(`HELLO ${LONG('g', 500)}\r\n\r\n`);

      expect(problem(res, 400, LONG('g', 500)).type).toBe(PROBLEM_TYPES.malformedRequest);
    });

    it('answers an HTTP/1.1 request without Host with a 400 problem', async () => {
      const res = await raw('GET /api/products HTTP/1.1\r\nConnection: close\r\n\r\n');

      expect(problem(res, 400).detail).toContain('Host');
    });

    it('answers a path that is not valid percent-encoding with a 400 problem', async () => {
      const body = problem(await request('/api/products/%E0%A4%A'), 400);

      expect(body).toMatchObject({
        type: PROBLEM_TYPES.malformedRequest,
        instance: '/api/products/%E0%A4%A',
      });
    });
  });

  describe('413 and 415 (the body parsers)', () => {
    const login = (contentType: string, body: string) =>
      request('/api/auth/login', { method: 'POST', headers: { 'content-type': contentType }, body });

    it.each([
      ['application/x-www-form-urlencoded', 'email=ada%40example.com&password=secret'],
      [
        'multipart/form-data; boundary=x',
        '--x\r\nContent-Disposition: form-data; name="email"\r\n\r\nada\r\n--x--\r\n',
      ],
      ['text/plain', '{"email":"ada@example.com","password":"secret"}'],
      ['application/xml', '<login/>'],
      ['application/jsonx', '{}'],
      [';;;', '{}'],
    ])('answers a %s body on a JSON route with 415', async (contentType, payload) => {
      const body = problem(await login(contentType, payload), 415);

      expect(body).toMatchObject({ type: PROBLEM_TYPES.unsupportedMediaType, instance: '/api/auth/login' });
      expect(body.detail).toContain('application/json');
    });

    it('refuses a form body before anything is written', async () => {
      const count = () =>
        t.app.get(DataSource).query<{ n: number }[]>('SELECT count(*)::int AS n FROM "user"');
      const before = await count();

      const res = await request('/api/auth/register', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'email=mallory%40example.com&password=long+enough+password',
      });

      expect(problem(res, 415).status).toBe(415);
      expect(await count()).toEqual(before);
    });

    it('answers a body over BODY_LIMIT with a 413 problem', async () => {
      const email = LONG('b', 100_000);
      const body = problem(await login('application/json', JSON.stringify({ email })), 413, email);

      expect(body).toMatchObject({
        type: PROBLEM_TYPES.bodyTooLarge,
        detail: 'The request body exceeds the limit of 65536 bytes.',
      });
    });

    it('clips what a malformed JSON body or an unknown long parameter name echoes', async () => {
      const json = problem(await login('application/json', `{"email":"${LONG('j', 5_000)}`), 400);
      expect(json.type).toBe(PROBLEM_TYPES.malformedBody);

      const name = LONG('k', 3_000);
      const res = await request(`/api/products?${name}=1`);
      const query = problem(res, 400, name);
      expect(query.type).toBe(PROBLEM_TYPES.badQuery);
      expect(query.errors?.every((error) => (error.parameter ?? '').length <= 150)).toBe(true);
    });
  });
});
