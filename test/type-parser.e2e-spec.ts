import { types } from 'pg';
import { TestApp, createTestApp } from 'src/framework/testing';
import { AppModule } from 'src/app.module';

/**
 * An app that sets node-postgres's global parser for `timestamptz` (here: keep PostgreSQL's text, a
 * common way to keep microseconds) gets it on every TypeORM read; the generated routes' prepared reads
 * (READ_TYPES) must honour it too, or GET and the write paths answer and hash the same row differently.
 */
describe('a global pg type parser on generated reads', () => {
  let t: TestApp;
  const before = types.getTypeParser(1184, 'text') as (value: string) => unknown;

  beforeAll(async () => {
    types.setTypeParser(1184, (value: string) => value);
    t = await createTestApp(AppModule.forRoot, { as: 'superuser', env: { RESOURCE_CACHE: 'off' } });
  });

  afterAll(async () => {
    await t?.close();
    types.setTypeParser(1184, before);
  });

  it('GET answers the timestamps PATCH answers, and its ETag passes If-Match', async () => {
    const created = await t.inject({
      method: 'POST',
      url: '/api/categories',
      payload: { name: 'Parsed', slug: 'parsed' },
    });
    expect(created.statusCode).toBe(201);
    const { id } = created.json<{ id: number }>();
    const got = await t.inject(`/api/categories/${id}`);
    const patched = await t.inject({
      method: 'PATCH',
      url: `/api/categories/${id}`,
      headers: { 'if-match': got.headers.etag as string },
      payload: { description: 'x' },
    });
    expect({
      status: patched.statusCode,
      createdAt: patched.json<{ createdAt?: string }>().createdAt,
    }).toEqual({
      status: 200,
      createdAt: got.json<{ createdAt: string }>().createdAt,
    });
  });
});
