import { redactUrl } from 'src/framework/logging/redact-url';

describe(redactUrl.name, () => {
  it('keeps a URL without a query as it is', () => {
    const url = '/api/products/7';

    expect(redactUrl(url)).toBe(url);
  });

  it('keeps ordinary parameters, filters and sorts as sent', () => {
    const url =
      '/api/products?filter[category.slug]=books&filter[price][gte]=10&sort=-name&fields=id,name&q=tea';

    expect(redactUrl(url)).toBe(url);
  });

  it.each([
    ['token', '/api/auth/email/verify?token=abc123'],
    ['refreshToken', '/x?refreshToken=abc123'],
    ['access_token', '/x?access_token=abc123'],
    ['password', '/x?password=abc123'],
    ['newPassword', '/x?newPassword=abc123'],
    ['code', '/x?code=abc123'],
    ['otp', '/x?otp=abc123'],
    ['key', '/x?key=abc123'],
    ['api_key', '/x?api_key=abc123'],
    ['api-key', '/x?api-key=abc123'],
    ['secret', '/x?secret=abc123'],
    ['client_secret', '/x?client_secret=abc123'],
    ['a nested name', '/x?filter[passwordHash]=abc123'],
    ['an upper-case name', '/x?TOKEN=abc123'],
    ['a percent-encoded name', '/x?%74oken=abc123'],
  ])('redacts the value of %s', (_name, url) => {
    const sut = redactUrl(url);

    expect(sut).not.toContain('abc123');
    expect(sut).toContain('=[redacted]');
  });

  it('redacts only the secret parameters, keeping the others and their order', () => {
    const sut = redactUrl('/api/auth/me?fields=id&token=t0k3n&page=2&otp=123456&flag');

    expect(sut).toBe('/api/auth/me?fields=id&token=[redacted]&page=2&otp=[redacted]&flag');
  });

  it('redacts a secret parameter given twice or without a value', () => {
    expect(redactUrl('/x?token=one&token=two&password')).toBe(
      '/x?token=[redacted]&token=[redacted]&password=[redacted]',
    );
  });

  it('does not mistake look-alike names for secrets', () => {
    const url = '/x?author=ada&keyword=tea&codename=x&filter[zipcode]=123';

    expect(redactUrl(url)).toBe(url);
  });
});
