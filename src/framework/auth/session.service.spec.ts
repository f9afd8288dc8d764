import type { FastifyReply, FastifyRequest } from 'fastify';
import type { DataSource } from 'typeorm';
import { SessionService } from 'src/framework/auth/session.service';
import type { NestorConfig } from 'src/framework/config/nestor-config';

/** Starts a session with a stub database and returns the cookie the reply was given. */
async function cookieSetBy(nodeEnv: NestorConfig['nodeEnv']) {
  const query = jest
    .fn()
    .mockResolvedValue([
      { id: 7, email: 'ada@example.com', isStaff: true, isSuperuser: false, permissions: [] },
    ]);
  const config = { nodeEnv, adminSession: { idleTimeout: 1800, maxAge: 43200 } } as NestorConfig;
  const sut = new SessionService({ query } as unknown as DataSource, config);
  const setCookie = jest.fn();
  await sut.start({ cookies: {} } as unknown as FastifyRequest, { setCookie } as unknown as FastifyReply, 7);
  const [name, , options] = setCookie.mock.calls[0] as [string, string, Record<string, unknown>];
  return { name, options, cookieName: sut.cookieName };
}

describe(SessionService.name, () => {
  it('names the production cookie __Host-…: Secure, Path=/, no Domain, httpOnly, SameSite=Lax, maxAge', async () => {
    const { name, options, cookieName } = await cookieSetBy('production');
    expect(name).toBe('__Host-nestor_session');
    expect(cookieName).toBe(name);
    expect(options).toEqual({ httpOnly: true, sameSite: 'lax', secure: true, path: '/', maxAge: 43200 });
  });

  it('keeps the plain name over http in development (browsers drop __Host- cookies without Secure)', async () => {
    const { name, options } = await cookieSetBy('development');
    expect(name).toBe('nestor_session');
    expect(options.secure).toBe(false);
  });
});
