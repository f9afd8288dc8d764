import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DataSource } from 'typeorm';
import { AppModule } from 'src/app.module';
import { verifyPassword } from 'src/framework/auth/passwords';
import { TestApp, createTestApp, createTestUser, deleteRedisKeys } from 'src/framework/testing';
import { CLI, NestorProcess, ROOT, childEnv, cli, copyBuild, ensureBuild } from 'test/support/processes';
import { TEST_REDIS_URL } from 'test/support/redis';

const execFileAsync = promisify(execFile);

const COMMANDS = [
  'migrate',
  'showmigrations',
  'makemigrations',
  'createsuperuser',
  'changepassword',
  'seed',
  'generate',
  'routes',
  'openapi',
  'check',
  'shell',
  'worker',
];

/** The real built `nestor` command, run as users run it, against one test app's database. */
describe('nestor CLI', () => {
  let t: TestApp;
  let env: Record<string, string>;
  let tmp: string;

  beforeAll(async () => {
    ensureBuild();
    t = await createTestApp((config) => AppModule.forRoot(config));
    mkdirSync(join(ROOT, '.tmp'), { recursive: true }); // not in a fresh clone
    tmp = mkdtempSync(join(ROOT, '.tmp', 'cli-'));
    env = { DATABASE_URL: t.config.databaseUrl!, DATA_DIR: t.dataDir, JOBS_PREFIX: `cli-${process.pid}` };
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    rmSync(tmp, { recursive: true, force: true });
    // `check --deploy` with REDIS_URL boots the app on Redis, under this prefix.
    await deleteRedisKeys(TEST_REDIS_URL, `cli-${process.pid}`);
  });

  const userRow = async (email: string) =>
    (
      await t.app
        .get(DataSource)
        .query<{ passwordHash: string; isSuperuser: boolean; isStaff: boolean; emailVerified: boolean }[]>(
          'SELECT "passwordHash", "isSuperuser", "isStaff", "emailVerified" FROM "user" WHERE email = $1',
          [email],
        )
    )[0];

  it('lists every command in --help, each with its own --help, and exits 2 on bad usage', async () => {
    const help = cli(['--help'], env);
    expect(help.status).toBe(0);
    for (const command of COMMANDS) {
      expect(help.output).toMatch(new RegExp(`^\\s+${command}\\b`, 'm'));
    }
    const helps = await Promise.all(
      COMMANDS.map(async (command) => {
        const { stdout } = await execFileAsync(process.execPath, [...CLI, command, '--help'], {
          env: childEnv(env),
        });
        return { command, usage: stdout.split('\n')[0] };
      }),
    );
    expect(helps).toEqual(
      COMMANDS.map((command) => ({ command, usage: expect.stringContaining(`Usage: nestor ${command}`) })),
    );
    expect(cli(['frobnicate'], env)).toMatchObject({
      status: 2,
      output: expect.stringContaining('unknown command'),
    });
    expect(cli(['makemigrations', '--bogus'], env).status).toBe(2);
    // Not a terminal: no colour codes in any output.
    expect(help.output).not.toContain('\u001b[');
  }, 180_000); // ~20 CLI processes: about 40 s of CPU, more on a busy 2-core machine

  it('createsuperuser --no-input reads the environment, validates, and refuses duplicates', async () => {
    const email = 'Root@Example.com';
    const ok = cli(['createsuperuser', '--no-input'], {
      ...env,
      NESTOR_SUPERUSER_EMAIL: email,
      NESTOR_SUPERUSER_PASSWORD: 'a long enough secret',
    });
    expect(ok).toMatchObject({
      status: 0,
      output: expect.stringContaining('Superuser root@example.com created'),
    });
    const row = await userRow('root@example.com');
    expect(row).toMatchObject({ isSuperuser: true, isStaff: true, emailVerified: true });
    expect(await verifyPassword(row.passwordHash, 'a long enough secret')).toBe(true);

    const again = cli(['createsuperuser', '--no-input'], {
      ...env,
      NESTOR_SUPERUSER_EMAIL: 'root@example.com',
      NESTOR_SUPERUSER_PASSWORD: 'another long secret',
    });
    expect(again).toMatchObject({ status: 1, output: expect.stringContaining('NST-U004') });
    expect(
      await verifyPassword((await userRow('root@example.com')).passwordHash, 'a long enough secret'),
    ).toBe(true);

    const weak = cli(['createsuperuser', '--no-input'], {
      ...env,
      NESTOR_SUPERUSER_EMAIL: 'weak@example.com',
      NESTOR_SUPERUSER_PASSWORD: 'short',
    });
    expect(weak).toMatchObject({ status: 1, output: expect.stringContaining('NST-U002') });
    expect(await userRow('weak@example.com')).toBeUndefined();

    expect(cli(['createsuperuser', '--no-input'], env)).toMatchObject({
      status: 1,
      output: expect.stringContaining('NST-U001'),
    });
    // Without a terminal, prompting is refused instead of hanging.
    expect(cli(['createsuperuser'], env)).toMatchObject({
      status: 1,
      output: expect.stringContaining('NST-U003'),
    });
  });

  it('createsuperuser prompts on a terminal with the password hidden', async () => {
    // `script` gives the CLI a real pseudo-terminal, as a person at a shell would.
    const command = `${process.execPath} ${CLI.join(' ')} createsuperuser`;
    const child = spawn('script', ['-qfec', command, '/dev/null'], { cwd: ROOT, env: childEnv(env) });
    const answers: [string, string][] = [
      ['Email address', 'typed@example.com\r'],
      ['Password:', 'typed secret 123\r'],
      ['(again)', 'typed secret 123\r'],
    ];
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      while (answers.length > 0 && output.includes(answers[0][0])) {
        const [, text] = answers.shift()!;
        setTimeout(() => child.stdin.write(text), 100);
      }
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect({ code, output }).toMatchObject({
      code: 0,
      output: expect.stringContaining('typed@example.com created'),
    });
    expect(output).not.toContain('typed secret');
    expect(await verifyPassword((await userRow('typed@example.com')).passwordHash, 'typed secret 123')).toBe(
      true,
    );
  }, 60_000);

  it('changepassword sets the password and ends every session of the user', async () => {
    const user = await createTestUser(t.app, { email: 'changer@example.com' });
    const changed = cli(['changepassword', 'changer@example.com', '--no-input'], {
      ...env,
      NESTOR_PASSWORD: 'brand new password',
    });
    expect(changed).toMatchObject({ status: 0, output: expect.stringContaining('Password changed') });
    expect(
      await verifyPassword((await userRow('changer@example.com')).passwordHash, 'brand new password'),
    ).toBe(true);
    const refresh = await t.inject({
      method: 'POST',
      url: '/api/auth/refresh',
      payload: { refreshToken: user.refreshToken },
    });
    expect(refresh.statusCode).toBe(401);

    expect(
      cli(['changepassword', 'nobody@example.com', '--no-input'], {
        ...env,
        NESTOR_PASSWORD: 'x'.repeat(12),
      }),
    ).toMatchObject({ status: 1, output: expect.stringContaining('NST-U005') });
    expect(
      cli(['changepassword', 'changer@example.com', '--no-input'], { ...env, NESTOR_PASSWORD: 'short' }),
    ).toMatchObject({ status: 1, output: expect.stringContaining('NST-U002') });
  });

  it('routes lists every documented operation with who may call it', async () => {
    const document = (await t.inject('/docs-json')).json<{
      paths: Record<string, Record<string, unknown>>;
    }>();
    const operations = Object.values(document.paths).flatMap((item) => Object.keys(item));
    const json = cli(['routes', '--json'], env);
    expect(json.status).toBe(0);
    const rows = JSON.parse(json.output) as {
      method: string;
      path: string;
      access: string;
      operationId: string;
    }[];
    expect(rows).toHaveLength(operations.length);
    expect(rows).toEqual(
      expect.arrayContaining([
        { method: 'GET', path: '/api/products', access: 'public', operationId: 'products.list' },
        { method: 'POST', path: '/api/products', access: 'products.add', operationId: 'products.create' },
        {
          method: 'DELETE',
          path: '/api/orders/{id}',
          access: 'orders.delete or owner',
          operationId: 'orders.delete',
        },
        { method: 'GET', path: '/api/users', access: 'staff: users.view', operationId: 'users.list' },
        { method: 'GET', path: '/admin/api/jobs/queues', access: 'staff', operationId: 'admin.jobs.queues' },
        { method: 'POST', path: '/api/auth/login', access: 'public', operationId: 'auth.login' },
      ]),
    );
    const table = cli(['routes'], env);
    expect(table.output).toMatch(/^GET\s+\/api\/products\s+public\s+products\.list$/m);
    expect(table.output).toContain(`${rows.length} routes`);
  });

  it('openapi writes the document the server serves, and a Postman collection from it', async () => {
    const out = join(tmp, 'openapi.json');
    const postman = join(tmp, 'api.postman.json');
    const result = cli(['openapi', '--out', out, '--postman', postman], env);
    expect(result).toMatchObject({ status: 0, output: expect.stringContaining('Postman collection') });
    // The same document, but for `servers`, which names each process's environment (the CLI's is development).
    const withoutServers = ({ servers: _servers, ...rest }: Record<string, unknown>) => rest;
    const served = await t.inject({ url: '/docs-json', headers: { host: new URL(t.config.publicUrl).host } });
    expect(withoutServers(JSON.parse(readFileSync(out, 'utf8')) as Record<string, unknown>)).toEqual(
      withoutServers(served.json()),
    );

    const collection = JSON.parse(readFileSync(postman, 'utf8')) as {
      info: { name: string; schema: string };
      item: { name: string; item?: { name: string; request: { method: string } }[] }[];
      variable: { key: string }[];
    };
    expect(collection.info.name).toBe('Nestor API');
    expect(collection.info.schema).toContain('v2.1');
    expect(collection.item.map((folder) => folder.name)).toEqual(
      expect.arrayContaining(['products', 'orders']),
    );
    // Ready to run: sign in with {{email}}/{{password}} and the token is kept for every other request.
    const requests = collection.item.flatMap((folder) => folder.item ?? []);
    expect(requests.map((r) => r.name)).toContain('Log in (stores the access token)');
    expect(collection.variable.map((v) => v.key)).toEqual(
      expect.arrayContaining(['baseUrl', 'email', 'password', 'bearerToken']),
    );

    const stdout = cli(['openapi'], env);
    expect(JSON.parse(stdout.output)).toMatchObject({ openapi: '3.1.0' });
  });

  it('check boots the declarations; check --deploy fails until production settings are decided', () => {
    expect(cli(['check'], env)).toMatchObject({ status: 0, output: expect.stringContaining('no issues') });

    const dev = cli(['check', '--deploy'], env);
    expect(dev.status).toBe(1);
    for (const code of [
      'NST-W001',
      'NST-W003',
      'NST-W004',
      'NST-W007',
      'NST-W009',
      'NST-W010',
      'NST-W012',
      'NST-W013',
    ]) {
      expect(dev.output).toContain(code);
    }

    const production = {
      ...env,
      NODE_ENV: 'production',
      SECRET_KEY: 'Zq8-vL2pX4tR7wB1nM6cJ9hK3dS5aE0uY2oQ',
      PUBLIC_URL: 'https://shop.example.com',
      REDIS_URL: 'redis://127.0.0.1:6379',
      DOCS: 'off',
      METRICS: 'protected',
      TRUST_PROXY: '1',
      SMTP_URL: 'smtp://127.0.0.1:2525',
      CORS_ORIGINS: 'https://shop.example.com',
      ADMIN_REQUIRE_2FA: 'true',
      SECURITY_CONTACT: 'mailto:security@shop.example.com',
      SECURITY_EXPIRES: new Date(Date.now() + 180 * 86_400_000).toISOString(),
    };
    expect(cli(['check', '--deploy'], production)).toMatchObject({
      status: 0,
      output: expect.stringContaining('ready to deploy'),
    });
    const wildcard = cli(['check', '--deploy'], {
      ...production,
      CORS_ORIGINS: '*',
      SECRET_KEY: 'x'.repeat(40),
    });
    expect(wildcard.status).toBe(1);
    expect(wildcard.output).toContain('NST-W002');
    expect(wildcard.output).toContain('NST-W005');
  });

  it('shell evaluates against the app: repositories and services by name, the last line finished before it exits', async () => {
    await t.app.get(DataSource).query(`INSERT INTO tag (name) VALUES ('from-shell-test')`);
    const child = spawn(process.execPath, [...CLI, 'shell'], {
      cwd: ROOT,
      env: childEnv(env),
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stdin.end(
      [
        `await Tag.findOneBy({ name: 'from-shell-test' }).then((tag) => 'found:' + tag.name)`,
        `typeof AuthService.createSuperuser`,
        // The last line is still running when the input ends: the shell waits for it before closing the app.
        `await dataSource.query('SELECT pg_sleep(0.5), 41 + 1 AS answer').then(([row]) => row.answer)`,
      ].join('\n') + '\n',
    );
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect({ code, output }).toMatchObject({
      code: 0,
      output: expect.stringContaining("'found:from-shell-test'"),
    });
    expect(output).toContain("'function'");
    expect(output).toContain('42');
    expect(output).toMatch(/Repositories: .*Product/);
  }, 60_000);

  it('worker runs the job workers until SIGTERM', async () => {
    const worker = new NestorProcess([...CLI, 'worker'], env);
    await worker.waitFor('Nestor worker ready');
    expect(await worker.stop()).toBe(0);
  });

  it('migrate lists what ran; --revert undoes the newest; showmigrations tells applied from pending', () => {
    // --revert undoes the app's newest migration; the framework's tables stay.
    const reverted = cli(['migrate', '--revert'], env);
    expect(reverted).toMatchObject({
      status: 0,
      output: expect.stringMatching(/Reverted ShopInitial\d+/),
    });
    const shown = cli(['showmigrations'], env).output;
    expect(shown).toMatch(/^\[X\] nestor\.NestorInitial\d+\n(\[X\] nestor\.\w+\n)*\[ \] ShopInitial\d+$/m);
    expect(cli(['migrate'], env).output).toMatch(/Applied ShopInitial\d+/);
    expect(cli(['migrate'], env).output).toContain('No pending migrations.');
  });

  it('makemigrations refuses a migration that would lose data, unless --allow-destructive', () => {
    // A build whose committed migrations renamed tag.name to tag.title: the entity still says `name`.
    const { dist: copy, command: script } = copyBuild(tmp);
    const migration = (name: string, sql: string): void =>
      writeFileSync(
        join(copy, 'migrations', `${name.slice(-13)}-${name}.js`),
        `exports.${name} = class ${name} {
          name = '${name}';
          async up(q) { await q.query('${sql}'); }
          async down() {}
        };`,
      );
    migration('RenameTagName9999999999998', 'ALTER TABLE "tag" RENAME COLUMN "name" TO "title"');
    const out = join(copy, 'generated');

    const check = cli(['makemigrations', '--check'], env, script);
    expect(check).toMatchObject({ status: 1, output: expect.stringContaining('NST-M003') });

    // One column differs: TypeORM guesses a rename back, which is right only if it was one.
    const guessed = cli(['makemigrations', 'Fix', '--dir', out], env, script);
    expect(guessed.status).toBe(1);
    expect(guessed.output).toContain('NST-M007 tag.title is taken for a rename to tag.name');

    // Two columns differ: TypeORM drops them and adds `name`, losing every tag's name.
    migration('AddTagNote9999999999999', 'ALTER TABLE "tag" ADD "note" text');
    const refused = cli(['makemigrations', 'Fix', '--dir', out], env, script);
    expect(refused.status).toBe(1);
    expect(refused.output).toContain('NST-M005 tag.title is dropped while tag.name is added');
    expect(refused.output).toContain('--allow-destructive');
    expect(() => readdirSync(out)).toThrow();

    const forced = cli(['makemigrations', 'Fix', '--dir', out, '--allow-destructive'], env, script);
    expect(forced.status).toBe(0);
    expect(readdirSync(out)).toEqual([expect.stringMatching(/^\d{13}-Fix\.ts$/)]);

    expect(cli(['makemigrations'], env, script)).toMatchObject({
      status: 1,
      output: expect.stringContaining('NST-M004'),
    });
  });
});
