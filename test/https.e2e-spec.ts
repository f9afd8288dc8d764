import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { IncomingHttpHeaders, request as httpRequest } from 'node:http';
import { connect as h2connect, ClientHttp2Session } from 'node:http2';
import { Agent, request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TLSSocket, connect as tlsConnect } from 'node:tls';
import { TestDatabase, createTestDatabase } from 'src/framework/testing';
import { TestCertificate, makeCertificate } from 'test/support/certificates';
import { NestorProcess, cli, ensureBuild, freePort } from 'test/support/processes';

const ADMIN = { email: 'root@example.com', password: 'Correct-Horse-Battery-9417-staple' };
const HSTS = 'max-age=31536000; includeSubDomains';

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  httpVersion: string;
  /** SHA-256 fingerprint of the certificate the server presented on this connection. */
  fingerprint?: string;
  reusedSocket: boolean;
}

/** One HTTP/1.1 request (over TLS when `agent` is given), without following redirects. */
function send(
  url: string,
  options: { agent?: Agent; method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  const { agent, method = 'GET', headers = {}, body } = options;
  return new Promise((resolve, reject) => {
    const request = (agent ? httpsRequest : httpRequest)(url, { agent, method, headers }, (res) => {
      // Read now: a keep-alive socket goes back to the agent's pool (res.socket null) once the body ends.
      const socket = res.socket as TLSSocket;
      const fingerprint = agent ? socket.getPeerCertificate().fingerprint256 : undefined;
      res.resume();
      res.once('end', () => {
        resolve({
          status: res.statusCode!,
          headers: res.headers,
          httpVersion: res.httpVersion,
          fingerprint,
          reusedSocket: request.reusedSocket,
        });
      });
    });
    request.once('error', reject);
    request.end(body);
  });
}

/** A GET on an open HTTP/2 session: its status and headers. */
function h2get(session: ClientHttp2Session, path: string): Promise<{ status: number; hsts?: string }> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':path': path });
    stream.once('response', (headers) => {
      stream.resume();
      stream.once('end', () =>
        resolve({
          status: Number(headers[':status']),
          hsts: headers['strict-transport-security'],
        }),
      );
    });
    stream.once('error', reject);
    stream.end();
  });
}

/** The error a TLS handshake with these client settings ends with (undefined: it succeeded). */
function handshakeError(port: number, options: Record<string, unknown>): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options });
    socket.once('secureConnect', () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.once('error', (error: Error) => resolve(error.message));
  });
}

/** HTTPS as a deployment runs it: real processes, real certificates, real signals. */
describe('HTTPS (TLS_CERT_FILE, HTTPS_REDIRECT, TRUST_PROXY)', () => {
  let db: TestDatabase;
  let dir: string;
  let a: TestCertificate;
  let b: TestCertificate;
  let live: { certFile: string; keyFile: string };
  let base: Record<string, string>;

  beforeAll(async () => {
    ensureBuild();
    db = await createTestDatabase();
    dir = mkdtempSync(join(tmpdir(), 'nestor-https-'));
    a = makeCertificate(dir, 'a');
    b = makeCertificate(dir, 'b');
    live = { certFile: join(dir, 'live.cert.pem'), keyFile: join(dir, 'live.key.pem') };
    copyFileSync(a.certFile, live.certFile);
    copyFileSync(a.keyFile, live.keyFile);
    base = {
      NODE_ENV: 'production',
      SECRET_KEY: 'k3Y-9f2Lq0ZpX7wR4tV1bN8mC6hJ5dS2aE0uI9oP',
      DATABASE_URL: db.url,
      DATA_DIR: join(dir, 'data'),
    };
    expect(cli(['migrate'], base)).toMatchObject({ status: 0 });
  }, 120_000);
  afterAll(async () => {
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses to start when a certificate file cannot be read, with a coded message', async () => {
    const missing = join(dir, 'missing.pem');
    const proc = new NestorProcess('main', { ...base, TLS_CERT_FILE: missing, TLS_KEY_FILE: a.keyFile });
    expect(await proc.exited).toBe(1);
    expect(proc.output).toContain('NST-C001');
    expect(proc.output).toContain(`TLS_CERT_FILE="${missing}": cannot read the file (ENOENT)`);
  });

  describe('served by Nestor itself', () => {
    let server: NestorProcess;
    let port: number;
    let httpPort: number;
    const ca = (): Buffer[] => [a.cert, b.cert];

    beforeAll(async () => {
      [port, httpPort] = [await freePort(), await freePort()];
      server = new NestorProcess('main', {
        ...base,
        PORT: String(port),
        PUBLIC_URL: `https://localhost:${port}`,
        TLS_CERT_FILE: live.certFile,
        TLS_KEY_FILE: live.keyFile,
        HTTPS_REDIRECT: 'true',
        HTTP_PORT: String(httpPort),
        ADMIN_EMAIL: ADMIN.email,
        ADMIN_PASSWORD: ADMIN.password,
      });
      await server.waitFor('Nestor is listening');
    }, 60_000);
    afterAll(async () => {
      expect(await server.stop()).toBe(0);
    });

    it('answers HTTP/2 through ALPN, with HSTS', async () => {
      expect(server.output).toContain(`Nestor is listening on https://127.0.0.1:${port}`);
      const session = h2connect(`https://localhost:${port}`, { ca: ca() });
      try {
        await new Promise((resolve) => session.once('connect', resolve));
        expect(session.alpnProtocol).toBe('h2');
        expect(await h2get(session, '/api/products')).toEqual({ status: 200, hsts: HSTS });
      } finally {
        session.close();
      }
    });

    it('falls back to HTTP/1.1 for a client that does not offer h2', async () => {
      const agent = new Agent({ ca: ca() });
      const answer = await send(`https://localhost:${port}/api/products`, { agent });
      expect(answer).toMatchObject({ status: 200, httpVersion: '1.1', fingerprint: a.fingerprint });
      expect(answer.headers['strict-transport-security']).toBe(HSTS);
      agent.destroy();
    });

    it('refuses TLS 1.1 and TLS 1.0, and TLS 1.2 ciphers outside the list', async () => {
      // SECLEVEL=0 lets this client offer the old protocols: the refusal is the server's alert.
      const old = { minVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' };
      expect(await handshakeError(port, { ...old, maxVersion: 'TLSv1.1' })).toMatch(/protocol version/);
      expect(await handshakeError(port, { ...old, maxVersion: 'TLSv1' })).toMatch(/protocol version/);
      const cbc = { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA' };
      expect(await handshakeError(port, cbc)).toMatch(/handshake failure/);
      const gcm = { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' };
      expect(await handshakeError(port, gcm)).toBeUndefined();
      expect(await handshakeError(port, { minVersion: 'TLSv1.3' })).toBeUndefined();
    });

    it('sets the admin session cookie Secure (with the __Host- prefix) over HTTPS in production', async () => {
      const agent = new Agent({ ca: ca() });
      const answer = await send(`https://localhost:${port}/admin/api/session`, {
        agent,
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: `https://localhost:${port}` },
        body: JSON.stringify(ADMIN),
      });
      agent.destroy();
      expect(answer.status).toBe(200);
      expect(answer.headers['strict-transport-security']).toBe(HSTS);
      const [cookie] = answer.headers['set-cookie'] ?? [];
      expect(cookie).toMatch(/^__Host-nestor_session=[^;]+;/);
      expect(cookie).toMatch(/; Secure(;|$)/);
      expect(cookie).toMatch(/; HttpOnly(;|$)/);
    });

    it('redirects plain HTTP on HTTP_PORT to HTTPS (308), for allowed hosts only', async () => {
      const redirect = await send(`http://127.0.0.1:${httpPort}/api/products?limit=1`, {
        headers: { host: `localhost:${httpPort}` },
        method: 'POST',
      });
      expect(redirect.status).toBe(308);
      expect(redirect.headers.location).toBe(`https://localhost:${port}/api/products?limit=1`);
      const foreign = await send(`http://127.0.0.1:${httpPort}/`, { headers: { host: 'evil.example' } });
      expect(foreign.status).toBe(400);
      expect(foreign.headers.location).toBeUndefined();
    });

    /** A request on a connection of its own: its status and the certificate that connection got. */
    const onNewConnection = async (): Promise<Pick<Answer, 'status' | 'fingerprint'>> => {
      const agent = new Agent({ ca: ca() });
      const { status, fingerprint } = await send(`https://localhost:${port}/health/live`, { agent });
      agent.destroy();
      return { status, fingerprint };
    };

    it('reloads the certificate on SIGHUP; open connections keep working', async () => {
      const kept = new Agent({ ca: ca(), keepAlive: true, maxSockets: 1 });
      const session = h2connect(`https://localhost:${port}`, { ca: ca() });
      try {
        expect(await send(`https://localhost:${port}/health/live`, { agent: kept })).toMatchObject({
          status: 200,
          fingerprint: a.fingerprint,
        });
        expect((await h2get(session, '/health/live')).status).toBe(200);

        copyFileSync(b.certFile, live.certFile);
        copyFileSync(b.keyFile, live.keyFile);
        server.child.kill('SIGHUP');
        await server.waitFor('TLS certificate reloaded');

        expect(await onNewConnection()).toEqual({ status: 200, fingerprint: b.fingerprint });
        // The keep-alive connection made before the reload is still open and still answers.
        expect(await send(`https://localhost:${port}/health/live`, { agent: kept })).toMatchObject({
          status: 200,
          fingerprint: a.fingerprint,
          reusedSocket: true,
        });
        expect((await h2get(session, '/health/live')).status).toBe(200);

        // A broken file on the next SIGHUP is logged; the server keeps the certificate it has.
        writeFileSync(live.certFile, 'not a certificate');
        server.child.kill('SIGHUP');
        await server.waitFor('TLS certificate not reloaded, keeping the current one');
        expect(await onNewConnection()).toEqual({ status: 200, fingerprint: b.fingerprint });
      } finally {
        kept.destroy();
        session.close();
      }
    });
  });

  describe('behind a proxy that terminates TLS (TRUST_PROXY, X-Forwarded-Proto)', () => {
    const start = async (trustProxy: string): Promise<{ proc: NestorProcess; url: string }> => {
      const port = await freePort();
      const proc = new NestorProcess('main', {
        ...base,
        PORT: String(port),
        PUBLIC_URL: 'https://localhost',
        TRUST_PROXY: trustProxy,
        HTTPS_REDIRECT: 'true',
      });
      await proc.waitFor('Nestor is listening');
      return { proc, url: `http://127.0.0.1:${port}` };
    };

    it('counts a request the trusted proxy received over HTTPS as secure; redirects the others', async () => {
      const { proc, url } = await start('127.0.0.1');
      try {
        const secure = await send(`${url}/api/products`, {
          headers: { host: 'localhost', 'x-forwarded-proto': 'https' },
        });
        expect(secure.status).toBe(200);
        expect(secure.headers['strict-transport-security']).toBe(HSTS);

        const plain = await send(`${url}/api/products?limit=2`, {
          headers: { host: 'localhost', 'x-forwarded-proto': 'http' },
        });
        expect(plain.status).toBe(308);
        expect(plain.headers.location).toBe('https://localhost/api/products?limit=2');
        expect(plain.headers['strict-transport-security']).toBeUndefined();

        // Load balancers probe the process directly: answered, not redirected.
        const probe = await send(`${url}/health/live`, { headers: { host: '10.1.2.3' } });
        expect(probe.status).toBe(200);
      } finally {
        expect(await proc.stop()).toBe(0);
      }
    }, 60_000);

    it('does not believe X-Forwarded-Proto from an address that is not a trusted proxy', async () => {
      const { proc, url } = await start('10.9.9.9');
      try {
        const spoofed = await send(`${url}/api/products`, {
          headers: { host: 'localhost', 'x-forwarded-proto': 'https' },
        });
        expect(spoofed.status).toBe(308);
        expect(spoofed.headers['strict-transport-security']).toBeUndefined();
      } finally {
        expect(await proc.stop()).toBe(0);
      }
    }, 60_000);
  });

  it('`nestor check --deploy` reports production with neither TLS nor a trusted proxy (NST-W018)', () => {
    const plain = cli(['check', '--deploy'], { ...base, TRUST_PROXY: 'false' });
    expect(plain.status).toBe(1);
    expect(plain.output).toContain('NST-W018');
    const tls = cli(['check', '--deploy'], {
      ...base,
      TRUST_PROXY: 'false',
      TLS_CERT_FILE: a.certFile,
      TLS_KEY_FILE: a.keyFile,
    });
    expect(tls.output).toContain('NST-W017'); // the audit ran…
    expect(tls.output).not.toContain('NST-W018'); // …and found HTTPS served
    const proxied = cli(['check', '--deploy'], { ...base, TRUST_PROXY: '1' });
    expect(proxied.output).not.toContain('NST-W018');
  }, 120_000);
});
