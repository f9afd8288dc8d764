import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { AppModule } from 'src/app.module';
import 'src/app/catalog/catalog.factories';
import { LOW_STOCK_THRESHOLD } from 'src/app/catalog/catalog.jobs';
import { Category } from 'src/app/catalog/category.entity';
import { Product, ProductStatus } from 'src/app/catalog/product.entity';
import { JobContext } from 'src/framework/jobs/job.decorator';
import { JobRegistry } from 'src/framework/jobs/job.registry';
import { MailService } from 'src/framework/mail/mail.service';
import { TestApp, TestUser, createTestApp } from 'src/framework/testing';
import { SmtpSink, startSmtp } from 'test/support/smtp';
import { sleep } from 'test/support/wait';
import { deleteRedisKeys } from 'test/support/redis';

const REDIS_URL = 'redis://127.0.0.1:6379';
const PREFIX = `jobs-mail-shop-${process.pid}-${randomBytes(3).toString('hex')}`;

/** A job context as the worker builds it, for calling a handler directly. */
function directContext(dataSource: DataSource, jobId: string): JobContext {
  return {
    jobId,
    attempt: 1,
    once: (key, effect) =>
      dataSource.transaction(async (manager) => {
        const inserted = await manager.query<{ key: string }[]>(
          'INSERT INTO job_effect (key, "jobId") VALUES ($1, $2) ON CONFLICT (key) DO NOTHING RETURNING key',
          [key, jobId],
        );
        if (inserted.length > 0) {
          await effect(manager, `effect-key-of-${key}`);
        }
        return inserted.length > 0;
      }),
  };
}

describe('Queued mail and the shop jobs (bullmq on a real Redis, a real SMTP server)', () => {
  let smtp: SmtpSink;
  let t: TestApp;
  let dataSource: DataSource;
  let staff: TestUser;
  let customer: TestUser;
  let category: Category;

  const post = (url: string, payload: object) => t.inject({ method: 'POST', url, payload });
  const createProduct = async (name: string, sku: string, stock: number): Promise<number> => {
    const product = await t.factory(Product).create({
      name,
      sku,
      price: '10.00',
      stock,
      status: ProductStatus.Active,
      category,
    });
    return product.id;
  };
  const placeOrder = async (productId: number, quantity: number): Promise<{ id: number; total: string }> => {
    const res = await t.actingAs(customer).inject({
      method: 'POST',
      url: '/api/orders',
      payload: { items: [{ productId, quantity }] },
    });
    expect(res.statusCode).toBe(201);
    return res.json<{ id: number; total: string }>();
  };
  const mailsTo = (to: string, subject: string) =>
    smtp.inbox.filter((m) => m.to.includes(to) && m.subject === subject);

  beforeAll(async () => {
    smtp = await startSmtp();
    t = await createTestApp(AppModule.forRoot, {
      as: 'superuser',
      env: {
        REDIS_URL,
        JOBS_PREFIX: PREFIX,
        WORKERS: 'inline',
        SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
      },
    });
    dataSource = t.app.get(DataSource);
    staff = await t.createUser({ isStaff: true });
    await t.createUser({ isStaff: true, isActive: false, email: 'gone-staff@test.nestor' });
    customer = await t.createUser({ email: 'customer@test.nestor' });
    category = await t.factory(Category).create({ name: 'Mail', slug: 'mail' });
  });

  afterAll(async () => {
    await t?.close();
    await smtp?.close();
    await deleteRedisKeys(REDIS_URL, PREFIX);
  });

  it('order → one confirmation mail, text and HTML, with the product name escaped in the HTML', async () => {
    const productId = await createProduct('<script>alert("x")</script> Mug', 'MAIL-1', 100);
    const order = await placeOrder(productId, 2);
    const subject = `Your order #${order.id}`;

    const mail = await smtp.next(customer.email, new RegExp(`^${subject}$`));
    expect(mail.text).toContain(`Thank you for your order #${order.id}. Total: 20.00.`);
    expect(mail.text).toContain('2 × <script>alert("x")</script> Mug at 10.00');
    expect(mail.html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; Mug');
    expect(mail.html).not.toContain('<script>');

    // Exactly once: nothing else arrives, one effect per job, and the customer's order sent one mail job.
    await t.drainJobs(); // every job (a duplicate included) has run
    expect(mailsTo(customer.email, subject)).toHaveLength(0);
    const [{ n }] = await dataSource.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM job_outbox WHERE name = 'mail.send' AND payload->>'to' = $1`,
      [customer.email],
    );
    expect(n).toBe(1);
    // The development transport keeps nothing: the mail went through SMTP.
    expect(t.app.get(MailService).sent()).toEqual([]);
    // Its Message-ID is derived from the mail job, on MAIL_FROM's domain: a resend of it is the same message.
    const [job] = await dataSource.query<{ id: string }[]>(
      `SELECT id FROM job_outbox WHERE name = 'mail.send' AND payload->>'to' = $1`,
      [customer.email],
    );
    expect(mail.messageId).toMatch(new RegExp(`^<${job.id}\\.[\\w-]{16}@nestor\\.local>$`));
  });

  it('a redelivered mail.send job does not send twice', async () => {
    const handler = t.app.get(JobRegistry).get('mail.send');
    const payload = t.app
      .get(MailService)
      .seal({ to: 'twice@test.nestor', subject: 'Once only', text: 'hello', html: '<p>hello</p>' });
    const context = directContext(dataSource, `manual-${randomBytes(4).toString('hex')}`);
    await handler.handle(payload, context);
    await handler.handle(payload, context);
    const sent = await smtp.next('twice@test.nestor', /^Once only$/);
    await sleep(300);
    expect(mailsTo('twice@test.nestor', 'Once only')).toHaveLength(0);

    // Sent again after a crash (its effect key never committed): the same Message-ID, so one message.
    await dataSource.query('DELETE FROM job_effect WHERE "jobId" = $1', [context.jobId]);
    await handler.handle(payload, context);
    expect((await smtp.next('twice@test.nestor', /^Once only$/)).messageId).toBe(sent.messageId);
  });

  it(`stock falling below ${LOW_STOCK_THRESHOLD} → one alert mail to each active staff member`, async () => {
    const productId = await createProduct('Teapot <b>big</b>', 'MAIL-LOW', LOW_STOCK_THRESHOLD + 1);
    await placeOrder(productId, 1); // 6 → 5: not below
    await placeOrder(productId, 2); // 5 → 3: below → alert
    await placeOrder(productId, 1); // 3 → 2: already below, no second alert

    const subject = 'Low stock: MAIL-LOW';
    const alert = await smtp.next(staff.email, /^Low stock: MAIL-LOW$/);
    expect(alert.text).toContain(`Teapot <b>big</b> (MAIL-LOW, product ${productId}) is down to`);
    expect(alert.html).toContain('Teapot &lt;b&gt;big&lt;/b&gt;');
    await smtp.next(t.superuser!.email, /^Low stock: MAIL-LOW$/);
    await t.drainJobs();
    expect(mailsTo(staff.email, subject)).toHaveLength(0);
    expect(smtp.inbox.filter((m) => m.subject === subject)).toEqual([]); // not the customer, not inactive staff
    const [{ n }] = await dataSource.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM job_outbox WHERE name = 'catalog.low-stock-alert' AND payload->>'productId' = $1`,
      [String(productId)],
    );
    expect(n).toBe(1);
  });

  it('a rolled-back order enqueues nothing (no confirmation, no alert)', async () => {
    const productId = await createProduct('Rollback', 'MAIL-RB', LOW_STOCK_THRESHOLD);
    const before = await dataSource.query<{ n: number }[]>('SELECT count(*)::int AS n FROM job_outbox');
    const res = await t.actingAs(customer).inject({
      method: 'POST',
      url: '/api/orders',
      payload: {
        items: [
          { productId, quantity: 1 },
          { productId: 999_999, quantity: 1 },
        ],
      },
    });
    expect(res.statusCode).toBe(422);
    const after = await dataSource.query<{ n: number }[]>('SELECT count(*)::int AS n FROM job_outbox');
    expect(after).toEqual(before);
  });

  it('reports.daily-sales writes one row per date and is idempotent on rerun', async () => {
    const registry = t.app.get(JobRegistry);
    const job = registry.get('reports.daily-sales');
    expect(job.options.cron).toBe('0 2 * * *');
    const today = new Date().toISOString().slice(0, 10);
    const expected = await dataSource.query<{ count: number; revenue: string }[]>(
      `SELECT count(*)::int AS count, coalesce(sum(total), 0)::numeric(14,2)::text AS revenue FROM "order"
        WHERE "createdAt" >= $1::date AT TIME ZONE 'UTC' AND status <> 'cancelled'`,
      [today],
    );
    expect(expected[0].count).toBeGreaterThan(0);
    const report = async () =>
      dataSource.query<{ ordersCount: number; revenue: string }[]>(
        'SELECT "ordersCount", revenue FROM daily_sales_report WHERE date = $1',
        [today],
      );

    await job.handle({ date: today }, directContext(dataSource, 'daily-1'));
    expect(await report()).toEqual([{ ordersCount: expected[0].count, revenue: expected[0].revenue }]);
    await job.handle({ date: today }, directContext(dataSource, 'daily-2'));
    expect(await report()).toEqual([{ ordersCount: expected[0].count, revenue: expected[0].revenue }]);

    // A later order and a rerun update the same row.
    const productId = await createProduct('Report', 'MAIL-REP', 100);
    await placeOrder(productId, 3);
    await job.handle({ date: today }, directContext(dataSource, 'daily-3'));
    const [row] = await report();
    expect(row.ordersCount).toBe(expected[0].count + 1);
    expect(Number(row.revenue)).toBeCloseTo(Number(expected[0].revenue) + 30, 2);

    // The cron's `{}` reports yesterday (UTC): no orders then, a zero row.
    await job.handle({}, directContext(dataSource, 'daily-4'));
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    const [previous] = await dataSource.query<{ ordersCount: number; revenue: string }[]>(
      'SELECT "ordersCount", revenue FROM daily_sales_report WHERE date = $1',
      [yesterday],
    );
    expect(previous).toEqual({ ordersCount: 0, revenue: '0.00' });
    const [{ n }] = await dataSource.query<{ n: number }[]>(
      'SELECT count(*)::int AS n FROM daily_sales_report',
    );
    expect(n).toBe(2);
  });

  it('the report is a staff-only, read-only resource', async () => {
    const list = await t.inject({ url: '/api/daily-sales-reports' });
    expect(list.statusCode).toBe(200);
    expect(list.json<{ data: { date: string }[] }>().data.length).toBeGreaterThan(0);
    const asCustomer = await t.actingAs(customer).inject('/api/daily-sales-reports');
    expect(asCustomer.statusCode).toBe(403);
    const anonymous = await t.anonymous().inject('/api/daily-sales-reports');
    expect(anonymous.statusCode).toBe(401);
    const write = await post('/api/daily-sales-reports', {
      date: '2020-01-01',
      ordersCount: 1,
      revenue: '1',
    });
    expect([404, 405]).toContain(write.statusCode);
  });
});
