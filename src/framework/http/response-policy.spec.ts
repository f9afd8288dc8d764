import { helmetOptionsFor, securityHeaders, surfaceOf } from 'src/framework/http/response-policy';

describe(helmetOptionsFor.name, () => {
  it('tells the JSON API, the admin SPA and the rest apart by path', () => {
    expect(['/api/products', '/admin/api/schema', '/api'].map(surfaceOf)).toEqual(['api', 'api', 'api']);
    expect(['/admin', '/admin/', '/admin/login', '/admin?x=1'].map(surfaceOf)).toEqual([
      'admin',
      'admin',
      'admin',
      'admin',
    ]);
    expect(['/docs', '/health/live', '/apiary', '/administrator'].map(surfaceOf)).toEqual([
      'docs',
      'docs',
      'docs',
      'docs',
    ]);
  });

  it('sends HSTS for a year with subdomains in production only, on every surface', () => {
    for (const surface of ['api', 'admin', 'docs'] as const) {
      const sut = securityHeaders(helmetOptionsFor(surface, { nodeEnv: 'production' }));
      expect(sut['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
      expect(securityHeaders(helmetOptionsFor(surface, { nodeEnv: 'development' }))).not.toHaveProperty(
        'strict-transport-security',
      );
    }
  });

  it('never lets a third-party page frame the API or the admin', () => {
    for (const surface of ['api', 'admin'] as const) {
      const sut = securityHeaders(helmetOptionsFor(surface, { nodeEnv: 'production' }));
      expect(sut['x-frame-options']).toBe('DENY');
      expect(sut['content-security-policy']).toContain("frame-ancestors 'none'");
    }
  });
});
