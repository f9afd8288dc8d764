import Fastify from 'fastify';
import pino from 'pino';
import { defaultAllowedHosts } from 'src/framework/config/load-config';
import { hostAllowed, refuseDisallowedHosts } from 'src/framework/http/allowed-hosts';

describe(hostAllowed.name, () => {
  const allowed = ['shop.example', '.api.example', '[::1]', '127.0.0.1'];

  it.each([
    'shop.example',
    'SHOP.example:443',
    'shop.example.',
    'api.example',
    'v2.api.example:8080',
    '[::1]:3000',
    '127.0.0.1',
  ])('allows %s', (host) => {
    expect(hostAllowed(host, allowed)).toBe(true);
  });

  it.each([
    // Django's poisoned hosts (tests/requests/tests.py) and near misses of the patterns.
    'example.com@evil.tld',
    'example.com:dr.frankenstein@evil.tld',
    'example.com:dr.frankenstein@evil.tld:80',
    'example.com:80/badpath',
    'example.com: recovermypassword.com',
    'shop.example@evil.tld',
    'shop.example:80/badpath',
    'evil.shop.example',
    'shop.example.evil.tld',
    'evilapi.example',
    '[::1]:80@evil.tld',
    'shop.example\tevil.tld',
    '',
    undefined,
  ])('refuses %j', (host) => {
    expect(hostAllowed(host, allowed)).toBe(false);
  });

  it('allows any well-formed host with *, but still not a malformed one', () => {
    expect(hostAllowed('anything.tld:1', ['*'])).toBe(true);
    expect(hostAllowed('a@b', ['*'])).toBe(false);
  });
});

describe(defaultAllowedHosts.name, () => {
  it("is PUBLIC_URL's host and loopback", () => {
    expect(defaultAllowedHosts('https://shop.example:8443')).toEqual([
      'shop.example',
      '.localhost',
      '127.0.0.1',
      '[::1]',
    ]);
    expect(defaultAllowedHosts('http://127.0.0.1:3000')).toEqual(['127.0.0.1', '.localhost', '[::1]']);
  });
});

describe(refuseDisallowedHosts.name, () => {
  const app = Fastify();
  refuseDisallowedHosts(app, ['shop.example'], pino({ level: 'silent' }));
  for (const path of ['/api/things', '/health/ready', '/metrics']) {
    app.get(path, () => ({ ok: true }));
  }

  afterAll(() => app.close());

  it('answers 400 problem+json without echoing the host, and runs no handler', async () => {
    const res = await app.inject({ url: '/api/things?x=1', headers: { host: 'evil.tld' } });
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({
      type: 'urn:nestor:problem:disallowed-host',
      status: 400,
      instance: '/api/things',
    });
    expect(res.body).not.toContain('evil');
  });

  it('with *, still refuses a Host that is not a host name', async () => {
    const any = Fastify();
    refuseDisallowedHosts(any, ['*'], pino({ level: 'silent' }));
    any.get('/x', () => ({ ok: true }));
    expect((await any.inject({ url: '/x', headers: { host: 'anything.tld:8080' } })).statusCode).toBe(200);
    expect((await any.inject({ url: '/x', headers: { host: 'example.com@evil.tld' } })).statusCode).toBe(400);
    await any.close();
  });

  it('lets allowed hosts through, and probes and scrapes from any host', async () => {
    expect((await app.inject({ url: '/api/things', headers: { host: 'shop.example' } })).statusCode).toBe(
      200,
    );
    for (const url of ['/health/ready', '/metrics']) {
      expect((await app.inject({ url, headers: { host: '10.1.2.3:3000' } })).statusCode).toBe(200);
    }
  });
});
