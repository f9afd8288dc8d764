import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { AppModule } from 'src/app.module';
import { hashPassword } from 'src/framework/auth/passwords';
import { postmanCollection } from 'src/framework/openapi/postman';
import { TestApp, createTestApp } from 'src/framework/testing';
import { LEFT_OUT, prepareRun } from 'test/openapi/postman';
import { bin, checkoutTempDir, freePort, runNode } from 'test/support/processes';

const EMAIL = 'postman-runner@example.com';
const PASSWORD = 'newman runs the collection';

interface NewmanReport {
  run: {
    executions: { item: { name: string }; response?: { code: number } }[];
    failures: { source?: { name?: string }; error: { test?: string; message: string } }[];
  };
}

/**
 * What Postman users do: export the collection (`npx nestor openapi --postman`, Postman's own converter on
 * the served document), log in once, and send the requests with the document's example values; newman,
 * Postman's command-line runner, runs the collection against the app.
 */
describe('Postman collection exported from the document, run by newman', () => {
  let t: TestApp;
  let url: string;
  let dir: string;

  beforeAll(async () => {
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    t = await createTestApp(AppModule.forRoot, { env: { PUBLIC_URL: url } });
    // The examples' ids are 1: the collection creates row 1 of each resource itself, so the staff account
    // it signs in with must not be user 1 (users.delete removes user 1).
    await t.app.get(DataSource).query(
      `INSERT INTO "user" (id, email, "passwordHash", "isActive", "isStaff", "isSuperuser", "emailVerified")
         VALUES (1000, $1, $2, true, true, true, true)`,
      [EMAIL, await hashPassword(PASSWORD)],
    );
    // Reports are written by a nightly job, not through the API.
    await t.app
      .get(DataSource)
      .query(
        `INSERT INTO daily_sales_report (date, "ordersCount", revenue) VALUES ('2026-01-31', 3, '42.50')`,
      );
    await t.app.listen(port, '127.0.0.1');
    dir = checkoutTempDir('postman-');
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await t.close();
  });

  it('runs the exported collection: login stores the token, every request answers 2xx', async () => {
    const document = (await (await fetch(`${url}/docs-json`)).json()) as {
      paths: Record<string, Record<string, { operationId?: string }>>;
    };
    // What `npx nestor openapi --postman` writes: Postman's own converter, plus the login that stores the token.
    const collection = await postmanCollection(document as never);
    // The server Postman sends to is PUBLIC_URL, from the document's `servers`.
    expect(collection.variable).toContainEqual(expect.objectContaining({ key: 'baseUrl', value: url }));

    const { run, order } = prepareRun(collection, document.paths);
    const operations = Object.values(document.paths).flatMap((item) =>
      Object.values(item).map((op) => op.operationId),
    );
    expect(order.length + Object.keys(LEFT_OUT).length).toBe(operations.length);
    writeFileSync(join(dir, 'run.json'), JSON.stringify(run));
    const newman = await runNode([
      bin('newman'),
      'run',
      join(dir, 'run.json'),
      '--env-var',
      `email=${EMAIL}`,
      '--env-var',
      `password=${PASSWORD}`,
      '--reporters',
      'json',
      '--reporter-json-export',
      join(dir, 'report.json'),
    ]);
    const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as NewmanReport;
    const failures = report.run.failures.map(
      (f) => `${f.source?.name ?? '?'}: ${f.error.test ? `${f.error.test}: ` : ''}${f.error.message}`,
    );
    expect(failures).toEqual([]);
    expect(report.run.executions.map((e) => e.response?.code)).toHaveLength(order.length);
    expect(newman.ok).toBe(true);
  }, 180_000);
});
