import { validate } from 'class-validator';
import { Redis } from 'ioredis';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { AppModule } from 'src/app.module';
import 'src/app/catalog/catalog.factories';
import { Category } from 'src/app/catalog/category.entity';
import { Product, ProductStatus } from 'src/app/catalog/product.entity';
import { Tag } from 'src/app/catalog/tag.entity';
import { OrderItem } from 'src/app/orders/order.entity';
import { DailySalesReport } from 'src/app/reports/daily-sales-report.entity';
import { ApiKey } from 'src/framework/auth/api-key.entity';
import { MailService } from 'src/framework/mail/mail.service';
import {
  FactoryError,
  TestApp,
  TestUser,
  createTestApp,
  deleteRedisKeys,
  testServerUrl,
  useClock,
} from 'src/framework/testing';
import { TEST_REDIS_URL } from 'test/support/redis';

describe('The test kit: factories, clients, mail, jobs and clock', () => {
  let t: TestApp;
  let dataSource: DataSource;
  const count = async (table: string): Promise<number> =>
    (await dataSource.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM "${table}"`))[0].n;

  beforeAll(async () => {
    // The defaults: PostgreSQL, jobs on bullmq's PostgreSQL backend with inline workers, no SMTP.
    t = await createTestApp(AppModule.forRoot);
    dataSource = t.app.get(DataSource);
  });
  afterAll(() => t?.close());

  describe('factories', () => {
    it('creates valid rows from the definitions, with the required category made through its factory', async () => {
      const categories = await count('category');
      const product = await t.factory(Product).create();

      expect(product.id).toEqual(expect.any(Number));
      expect(product.version).toBe(1); // generated columns come back from the insert
      expect(product.sku).toMatch(/^[A-Z0-9][A-Z0-9-]*$/);
      expect(product.price).toMatch(/^\d{1,8}\.\d{2}$/);
      expect(product.status).toBe(ProductStatus.Active);
      expect(product.categoryId).toBe(product.category.id);
      expect(product.category.slug).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
      expect(await count('category')).toBe(categories + 1);
      // The entities' own validation rules accept what the definitions make.
      for (const made of [product, product.category, await t.factory(Tag).create()]) {
        expect(await validate(made)).toEqual([]);
      }
      // And the API serves it as saved.
      const res = await t.inject(`/api/products/${product.id}?include=category`);
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({
        name: product.name,
        sku: product.sku,
        price: product.price,
        category: { slug: product.category.slug },
      });
    });

    it('lets overrides win: a given relation or foreign key skips the lazy association', async () => {
      const books = await t.factory(Category).create({ name: 'Books', slug: 'books' });
      const categories = await count('category');

      const byId = await t.factory(Product).create({ categoryId: books.id, price: '9.99', stock: 3 });
      const byObject = await t.factory(Product).create({ category: books });
      expect(await count('category')).toBe(categories); // no category made for either
      expect([byId.categoryId, byObject.categoryId]).toEqual([books.id, books.id]);
      expect(byId).toMatchObject({ price: '9.99', stock: 3 });

      // A partial relation without an id is created through its factory with those values.
      const nested = await t.factory(Product).create({ category: { slug: 'garden-tools' } });
      expect(await count('category')).toBe(categories + 1);
      expect(nested.category).toMatchObject({ id: nested.categoryId, slug: 'garden-tools' });
      expect(nested.category.name).toMatch(/\w/); // the rest from the Category definition

      const tags = await t.factory(Tag).createMany(2);
      const tagged = await t.factory(Product).create({ tags });
      const [{ n }] = await dataSource.query<{ n: number }[]>(
        'SELECT count(*)::int AS n FROM product_tags WHERE "productId" = $1',
        [tagged.id],
      );
      expect(n).toBe(2);
    });

    it('builds without saving, and makes many with per-index overrides', async () => {
      const products = await count('product');
      const draft = await t.factory(Product).build({ status: ProductStatus.Draft });
      expect(draft.id).toBeUndefined();
      expect(draft.status).toBe(ProductStatus.Draft);
      expect(await count('product')).toBe(products); // the row was not saved…
      expect(draft.categoryId).toBe(draft.category.id); // …its parent was, so it can be saved or posted
      const admin = await t.createUser({ isSuperuser: true, isStaff: true });
      const posted = await t.actingAs(admin).inject({
        method: 'POST',
        url: '/api/products',
        payload: {
          name: draft.name,
          sku: draft.sku,
          price: draft.price,
          categoryId: draft.categoryId,
        },
      });
      expect(posted.statusCode).toBe(201);

      const many = await t.factory(Product).createMany(3, (i) => ({ stock: i * 10 }));
      expect(many.map((p) => p.stock)).toEqual([0, 10, 20]);
      expect(new Set(many.map((p) => p.sku)).size).toBe(3);
      expect(many.every((p) => typeof p.id === 'number')).toBe(true);
      expect(await count('product')).toBe(products + 4);
    });

    it('is deterministic for a seed: the same values again, other values for another seed', async () => {
      const pick = (p: Product) => [p.name, p.description, p.price, p.stock, p.sku.slice(0, 3)];
      const first = await t.factory(Product, { seed: 42 }).buildMany(3);
      const again = await t.factory(Product, { seed: 42 }).buildMany(3);
      const other = await t.factory(Product, { seed: 43 }).buildMany(3);
      expect(again.map(pick)).toEqual(first.map(pick));
      expect(other.map(pick)).not.toEqual(first.map(pick));
      // Object n of a seed is the same whatever was made before it.
      const seeded = t.factory(Product, { seed: 42 });
      await seeded.build();
      expect(pick(await seeded.build())).toEqual(pick(first[1]));
      // Unique values still differ (the sequence), so seeded objects can be saved side by side.
      expect(new Set([...first, ...again].map((p) => p.sku)).size).toBe(6);
    });

    it('fills entities that have no definition from their metadata, parents included', async () => {
      const items = await count('order_item');
      const orders = await count('order');
      const item = await t.factory(OrderItem).create();
      expect(item.id).toEqual(expect.any(Number));
      expect(item.quantity).toEqual(expect.any(Number));
      expect(item.unitPrice).toMatch(/^\d{1,8}\.\d{2}$/); // numeric(10,2) as a decimal string
      expect(item.orderId).toBe(item.order.id);
      expect(item.product.status).toBe(ProductStatus.Active); // the parent came from Product's definition
      expect([await count('order_item'), await count('order')]).toEqual([items + 1, orders + 1]);

      // A unique date column, an int and a numeric(14,2): several rows side by side.
      const reports = await t.factory(DailySalesReport).createMany(3);
      expect(new Set(reports.map((r) => r.date)).size).toBe(3);
      reports.forEach((r) => expect(r.date).toMatch(/^\d{4}-\d{2}-\d{2}$/));

      // A framework entity: its owner (a User, also without a definition) is created first.
      const key = await t.factory(ApiKey).create({ permissions: ['products.view'] });
      const [row] = await dataSource.query<{ prefix: string; email: string }[]>(
        'SELECT k.prefix, u.email FROM api_key k JOIN "user" u ON u.id = k."userId" WHERE k.id = $1',
        [key.id],
      );
      expect(row.prefix.length).toBeLessThanOrEqual(16);
      expect(row.email).toMatch(/^[^@\s]+@example\.com$/);
    });

    it('refuses a class that is not an entity, with a coded error', () => {
      class Coupon {}
      expect(() => t.factory(Coupon)).toThrow(FactoryError);
      expect(() => t.factory(Coupon)).toThrow(/^NST-F001 Factory for "Coupon": not an entity/);
    });
  });

  describe('acting as someone', () => {
    let staff: TestUser;
    let customer: TestUser;
    let categoryId: number;
    const newProduct = (n: number) => ({
      method: 'POST' as const,
      url: '/api/products',
      payload: { name: `Kit ${n}`, sku: `KIT-${n}`, price: '1.00', categoryId },
    });

    beforeAll(async () => {
      staff = await t.createUser({ permissions: ['products.add', 'products.view'] });
      customer = await t.createUser();
      categoryId = (await t.factory(Category).create()).id;
    });

    it('actingAs sends the user’s token: their permissions decide (201 vs 403)', async () => {
      expect((await t.actingAs(staff).inject(newProduct(1))).statusCode).toBe(201);
      const refused = await t.actingAs(customer).inject(newProduct(2));
      expect(refused.statusCode).toBe(403);
      expect(refused.json()).toMatchObject({ detail: 'This needs the products.add permission.' });
      const me = await t.actingAs(customer).inject('/api/auth/me');
      expect(me.json()).toMatchObject({ id: customer.id, email: customer.email });
    });

    it('withApiKey sends an API key, limited to the key’s permissions', async () => {
      const adding = await t.createApiKey(staff, ['products.add']);
      const viewing = await t.createApiKey(staff, ['products.view']);
      expect((await t.withApiKey(adding).inject(newProduct(3))).statusCode).toBe(201);
      expect((await t.withApiKey(viewing).inject(newProduct(4))).statusCode).toBe(403);
      // Keys cannot manage keys, whatever they may do otherwise.
      expect((await t.withApiKey(adding).inject('/api/auth/api-keys')).statusCode).toBe(403);
      expect((await t.withApiKey('nst_notakey').inject('/api/auth/me')).statusCode).toBe(401);
    });

    it('anonymous sends no credentials; a request’s own headers win over the client’s', async () => {
      expect((await t.anonymous().inject(newProduct(5))).statusCode).toBe(401);
      expect((await t.anonymous().inject('/api/products')).statusCode).toBe(200); // the catalogue is public
      const dropped = await t
        .actingAs(staff)
        .inject({ ...newProduct(6), headers: { authorization: undefined } });
      expect(dropped.statusCode).toBe(401);
      const replaced = await t
        .actingAs(customer)
        .inject({ ...newProduct(7), headers: { authorization: `Bearer ${staff.accessToken}` } });
      expect(replaced.statusCode).toBe(201);
    });
  });

  describe('mail and jobs', () => {
    it('t.mail shows the mail a request queued, after its job ran; a reset link works', async () => {
      const user = await t.createUser({ email: 'kit-reset@example.com' });
      await t.mail.clear();
      const res = await t.anonymous().inject({
        method: 'POST',
        url: '/api/auth/password/forgot',
        payload: { email: 'Kit-Reset@example.com' },
      });
      expect(res.statusCode).toBe(202);

      const mail = await t.mail.expectSent({ to: user.email, subject: /reset your password/i });
      const token = mail.text.split('\n').find((line) => /^[A-Za-z0-9_-]{43}$/.test(line));
      expect(token).toBeDefined();
      const reset = await t.anonymous().inject({
        method: 'POST',
        url: '/api/auth/password/reset',
        payload: { token, password: 'a brand new password 1' },
      });
      expect(reset.statusCode).toBe(204);
      await t.mail.expectSent({ to: user.email, subject: 'Your password was changed' });
      expect(await t.mail.outbox({ to: user.email })).toHaveLength(2);
      await t.mail.expectNotSent({ to: 'nobody@example.com' });
    });

    it('expectSent fails with a readable list of what was sent; clear() forgets it', async () => {
      await t.anonymous().inject({
        method: 'POST',
        url: '/api/auth/password/forgot',
        payload: { email: 'kit-reset@example.com' },
      });
      await expect(t.mail.expectSent({ to: 'someone-else@example.com', subject: 'Welcome' })).rejects.toThrow(
        /^Expected a mail with to "someone-else@example.com", subject "Welcome". Sent \(\d+\):\n {2}- to kit-reset@example.com: "Reset your password"/,
      );
      await expect(t.mail.expectNotSent({ to: 'kit-reset@example.com' })).rejects.toThrow(
        /^Expected no mail with to "kit-reset@example.com"/,
      );
      await t.mail.clear();
      expect(await t.mail.outbox()).toEqual([]);
      await expect(t.mail.expectSent({})).rejects.toThrow('Nothing was sent.');
    });

    it('drainJobs waits for queued jobs to finish', async () => {
      const mail = t.app.get(MailService);
      const before = mail.sent().length;
      for (let i = 0; i < 5; i++) {
        await mail.queue({ to: `drain${i}@example.com`, subject: `Drain ${i}`, text: 'hello' });
      }
      await t.drainJobs();
      // Read without t.mail (which drains by itself): the jobs have run.
      const subjects = mail.sent().map((m) => m.subject);
      expect(subjects.filter((s) => s.startsWith('Drain ')).sort()).toEqual([
        'Drain 0',
        'Drain 1',
        'Drain 2',
        'Drain 3',
        'Drain 4',
      ]);
      expect(subjects.length - before).toBeGreaterThanOrEqual(5);
      const [{ n }] = await dataSource.query<{ n: number }[]>(
        'SELECT count(*)::int AS n FROM job_outbox WHERE "finishedAt" IS NULL',
      );
      expect(n).toBe(0);
    });
  });

  describe('clock', () => {
    afterEach(() => t.clock.restore());

    it('expires an access token after ACCESS_TOKEN_TTL (900 s by default): 200, then 401', async () => {
      const user = await t.createUser();
      const me = () => t.actingAs(user).inject('/api/auth/me');
      t.clock.freeze();
      expect((await me()).statusCode).toBe(200);
      t.clock.advance(t.config.accessTokenTtl * 1000 - 5_000);
      expect((await me()).statusCode).toBe(200);
      t.clock.advance(10_000);
      const expired = await me();
      expect(expired.statusCode).toBe(401);
      expect(expired.headers['content-type']).toMatch(/^application\/problem\+json/);
      t.clock.restore();
      expect((await me()).statusCode).toBe(200); // real time: still valid
    });

    it('useClock() fakes Date only: timers and the database keep working', async () => {
      const clock = useClock();
      try {
        clock.freeze('2030-06-01T12:00:00Z');
        expect(new Date().toISOString()).toBe('2030-06-01T12:00:00.000Z');
        await new Promise((resolve) => setTimeout(resolve, 20)); // a real timer still fires
        expect(Date.now()).toBe(Date.parse('2030-06-01T12:00:00Z')); // and the clock stood still
        clock.advance(90_000);
        expect(clock.now()).toBe(Date.parse('2030-06-01T12:01:30Z'));
        const [{ year }] = await dataSource.query<{ year: number }[]>(
          'SELECT extract(year FROM now())::int AS year',
        );
        expect(year).toBeLessThan(2030); // the database keeps its own clock
      } finally {
        clock.restore();
      }
      expect(clock.frozen).toBe(false);
      expect(new Date().getFullYear()).toBeLessThan(2030);
    });
  });
});

describe('What a test app leaves behind', () => {
  const ownDatabases = async (): Promise<string[]> => {
    const pg = new Client({ connectionString: testServerUrl() });
    await pg.connect();
    try {
      const rows = await pg.query<{ datname: string }>(
        `SELECT datname FROM pg_database WHERE datname LIKE $1 ORDER BY datname`,
        [`nestor\\_test\\_${process.pid}\\_%`],
      );
      return rows.rows.map((row) => row.datname);
    } finally {
      await pg.end();
    }
  };

  it('a refused configuration drops the database it made for the app', async () => {
    const before = await ownDatabases();
    await expect(createTestApp(AppModule.forRoot, { env: { RATE_LIMIT_ANON: 'lots' } })).rejects.toThrow(
      /NST-C001[\s\S]*RATE_LIMIT_ANON/,
    );
    expect(await ownDatabases()).toEqual(before);
  });

  it('an app on Redis gets a key prefix of its own unless the test names one; close() deletes its keys', async () => {
    const env = { REDIS_URL: TEST_REDIS_URL, RATE_LIMIT_ANON: '100/minute' };
    const [a, b] = await Promise.all([
      createTestApp(AppModule.forRoot, { env }),
      createTestApp(AppModule.forRoot, { env }),
    ]);
    const named = `kit-${process.pid}`;
    const c = await createTestApp(AppModule.forRoot, { env: { ...env, JOBS_PREFIX: named } });
    const redis = new Redis(TEST_REDIS_URL);
    try {
      expect(a.config.jobsPrefix).toMatch(new RegExp(`^nestor-test-${process.pid}-[0-9a-f]{8}$`));
      expect(b.config.jobsPrefix).not.toBe(a.config.jobsPrefix);
      expect(c.config.jobsPrefix).toBe(named);
      // A counted request writes the app's budget key under its prefix.
      for (const t of [a, c]) {
        expect((await t.anonymous().inject('/api/products')).statusCode).toBe(200);
      }
      expect(await redis.keys(`${a.config.jobsPrefix}:rate-limit:*`)).not.toEqual([]);
      await a.close();
      expect(await redis.keys(`${a.config.jobsPrefix}:*`)).toEqual([]);
      // A prefix the test named is the test's to clean up (it may share it between apps).
      await c.close();
      expect(await redis.keys(`${named}:*`)).not.toEqual([]);
    } finally {
      await deleteRedisKeys(TEST_REDIS_URL, named);
      await b.close();
      await redis.quit();
    }
  });
});
