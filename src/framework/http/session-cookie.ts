import type { NestorConfig } from 'src/framework/config/nestor-config';

/**
 * The admin session cookie: httpOnly, SameSite=Lax, Path=/, Secure in production. Idle and absolute
 * timeouts: ADMIN_SESSION_IDLE_TIMEOUT and ADMIN_SESSION_MAX_AGE (NestorConfig.adminSession).
 */
export const SESSION_COOKIE = 'nestor_session';

/**
 * The cookie's name: in production, where it is Secure, with the `__Host-` prefix, so browsers keep it to
 * this host, Path=/ and no Domain, and no subdomain can plant or overwrite it (ASVS V3.4.4).
 * Example: `request.cookies[sessionCookieName(config)]`.
 */
export function sessionCookieName(config: Pick<NestorConfig, 'nodeEnv'>): string {
  return config.nodeEnv === 'production' ? `__Host-${SESSION_COOKIE}` : SESSION_COOKIE;
}
