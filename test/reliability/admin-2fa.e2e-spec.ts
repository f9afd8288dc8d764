import { generate } from 'otplib';
import { DataSource } from 'typeorm';
import { AppModule } from 'src/app.module';
import { TWO_FACTOR_REQUIRED } from 'src/framework/admin/admin-session.controller';
import type { Problem } from 'src/framework/http/problem';
import { TestApp, createTestApp } from 'src/framework/testing';

const HOST = 'shop.example';

/** ASVS V4.3.1: with ADMIN_REQUIRE_2FA=true the admin is closed to staff without a second factor. */
describe('Admin with ADMIN_REQUIRE_2FA=true', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp(AppModule.forRoot, {
      env: { PUBLIC_URL: `https://${HOST}`, ADMIN_REQUIRE_2FA: 'true' },
    });
  });
  afterAll(() => t.close());

  const adminLogin = (payload: object) =>
    t.anonymous().inject({
      method: 'POST',
      url: '/admin/api/session',
      headers: { host: HOST, origin: `https://${HOST}` },
      payload,
    });

  it('refuses a staff password alone (403 2fa-required, no session), then admits the same staff with 2FA on', async () => {
    const staff = await t.createUser({ isStaff: true, isSuperuser: true });
    const refused = await adminLogin({ email: staff.email, password: staff.password });
    expect(refused.statusCode).toBe(403);
    expect(refused.json<Problem>().type).toBe(TWO_FACTOR_REQUIRED);
    const [{ n }] = await t.app
      .get(DataSource)
      .query<{ n: number }[]>('SELECT count(*)::int AS n FROM admin_session WHERE "userId" = $1', [staff.id]);
    expect(n).toBe(0);

    const asStaff = t.actingAs(staff);
    const { secret } = (await asStaff.inject({ method: 'POST', url: '/api/auth/2fa/setup' })).json<{
      secret: string;
    }>();
    const step = Math.floor(Date.now() / 1000);
    const enable = await asStaff.inject({
      method: 'POST',
      url: '/api/auth/2fa/enable',
      payload: { code: await generate({ secret, epoch: step }) },
    });
    expect(enable.statusCode).toBe(200);
    const admitted = await adminLogin({
      email: staff.email,
      password: staff.password,
      otp: await generate({ secret, epoch: step + 30 }),
    });
    expect(admitted.statusCode).toBe(200);
  });
});
