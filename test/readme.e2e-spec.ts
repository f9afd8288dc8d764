import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { DataSource } from 'typeorm';
import { AppModule } from 'src/app.module';
import { shopSeeder } from 'src/app/seed';
import { TestApp, createTestApp } from 'src/framework/testing';
import { MarkdownDoc, ShellCommand, parseMarkdown, shellCommands } from 'test/support/markdown';
import { ROOT } from 'test/support/processes';

/** Every Markdown file of the repository (tracked or new, not ignored), relative to the root. */
const MARKDOWN = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '*.md'], {
  cwd: ROOT,
  encoding: 'utf8',
})
  .split('\n')
  .filter((file) => file !== '' && existsSync(join(ROOT, file)));
/** The files whose `curl` examples a reader runs: the README and the docs. */
const EXAMPLE_FILES = MARKDOWN.filter((file) => file === 'README.md' || file.startsWith('docs/'));
const docs = new Map<string, MarkdownDoc>(
  MARKDOWN.map((file) => [file, parseMarkdown(readFileSync(join(ROOT, file), 'utf8'))]),
);

/** The README's examples talk to `npm start` on its default address; curl is pointed at the test's app. */
const EXAMPLE_ORIGINS = ['localhost:3000', '127.0.0.1:3000'];
/** Paths the README names that exist only once a command made them (`nestor generate`, the build). */
const MADE_BY_COMMANDS = new Set([
  'src/app/coupons',
  'test/coupons.e2e-spec.ts',
  'admin/dist',
  'graphiql/dist',
]);

interface CurlExample extends ShellCommand {
  file: string;
  /** The status the example's comment announces (`# → 400`), when it shows an error. */
  expected?: number;
  /** The start of the message the comment quotes (`# → 400: "limit must be …"`), to find in the answer. */
  message?: string;
}

const examples: CurlExample[] = EXAMPLE_FILES.flatMap((file) =>
  shellCommands(docs.get(file)!)
    .filter((c) => /^curl\s/.test(c.command))
    .map((c) => {
      const [, status, message] = /#\s*→\s*(\d{3})\b(?::\s*"([^"…]*))?/.exec(c.command) ?? [];
      return {
        ...c,
        file,
        expected: status === undefined ? undefined : Number(status),
        message: message?.trim(),
      };
    }),
);

/** What a link or a path in `file` points at, relative to the repository root (`..…` when outside). */
const inRepo = (file: string, target: string): string =>
  relative(ROOT, resolve(ROOT, dirname(file), decodeURIComponent(target)));

/** The URL of a curl command line (its first argument naming a host). */
function urlOf(command: string): string | undefined {
  return /(?:^|\s)['"]?((?:https?:\/\/)?(?:localhost|127\.0\.0\.1|\[::1\])(?::\d+)?\/[^\s'"]*)/.exec(
    command,
  )?.[1];
}

/** `ADMIN_EMAIL=… ADMIN_PASSWORD=…` of the docs' `npm start` commands: the superuser the examples sign in as. */
function startEnvironment(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const file of EXAMPLE_FILES) {
    for (const { command, line } of shellCommands(docs.get(file)!)) {
      const start = command.split(/&&|;/).find((part) => /\bnpm start\b/.test(part));
      for (const [, name, raw] of start?.matchAll(/\b(ADMIN_[A-Z_]+)=('[^']*'|"[^"]*"|[^\s'"]+)/g) ?? []) {
        const value = raw.replace(/^(['"])(.*)\1$/, '$2');
        if (env[name] !== undefined && env[name] !== value) {
          throw new Error(`${file}:${line}: ${name}=${value}, but another start command sets ${env[name]}`);
        }
        env[name] = value;
      }
    }
  }
  return env;
}

describe('README and docs', () => {
  describe('links', () => {
    const links = [...docs].flatMap(([file, doc]) => doc.links.map((link) => ({ file, ...link })));

    it('finds the links of the README and the docs', () => {
      expect(links.filter((l) => l.file === 'README.md').length).toBeGreaterThan(5);
      expect(links.filter((l) => l.file === 'docs/architecture.md').length).toBeGreaterThan(2);
      console.log(`${links.length} links in ${docs.size} Markdown files checked`);
    });

    it('point at files and headings inside the repository', () => {
      const broken = links.flatMap(({ file, line, target }) => {
        const where = `${file}:${line} → ${target}`;
        if (/^[a-z][a-z+.-]*:/i.test(target)) {
          // Outside links are fine; the running app's are examples, for code, not links a reader can follow.
          return /^https?:\/\/(localhost|127\.0\.0\.1|\[::1\])[:/]/.test(target)
            ? [`${where}: a link to the local app (write it as code)`]
            : [];
        }
        const [path, anchor] = target.split('#', 2);
        const resolved = path === '' ? file : inRepo(file, path);
        if (resolved.startsWith('..')) {
          return [`${where}: leaves the repository`];
        }
        if (!existsSync(join(ROOT, resolved))) {
          return [`${where}: no such file`];
        }
        const headings = docs.get(resolved)?.anchors;
        if (anchor && resolved.endsWith('.md') && !headings?.has(decodeURIComponent(anchor))) {
          return [`${where}: no heading "#${anchor}" in ${resolved}`];
        }
        return [];
      });
      expect(broken).toEqual([]);
    });

    it('name repository paths that exist, and none outside it', () => {
      const missing = EXAMPLE_FILES.flatMap((file) =>
        docs.get(file)!.codeSpans.flatMap(({ text, line }) => {
          if (text.startsWith('../')) {
            return inRepo(file, text).startsWith('..')
              ? [`${file}:${line}: \`${text}\` is outside the repository`]
              : [];
          }
          const path = /^((?:src|test|scripts|docs|admin|graphiql|migrations|\.ci)\/[\w./-]*)$/.exec(
            text,
          )?.[1];
          return path && !MADE_BY_COMMANDS.has(path.replace(/\/$/, '')) && !existsSync(join(ROOT, path))
            ? [`${file}:${line}: \`${path}\` does not exist`]
            : [];
        }),
      );
      expect(missing).toEqual([]);
    });
  });

  describe('curl examples, run as written against a live app', () => {
    let t: TestApp;
    let dir: string;
    let variables: Record<string, string>;

    beforeAll(async () => {
      const admin = startEnvironment();
      expect(Object.keys(admin).sort()).toEqual(['ADMIN_EMAIL', 'ADMIN_PASSWORD']);
      t = await createTestApp(AppModule.forRoot, { env: admin });
      // The demo data of `npx nestor seed` (its defaults: 100 products, seed 1), which the examples read.
      const quiet = { start: () => undefined, advance: () => undefined };
      await shopSeeder.run({
        dataSource: t.app.get(DataSource),
        app: t.app,
        count: 100,
        seed: 1,
        progress: quiet,
      });
      await t.app.listen(0, '127.0.0.1');
      const port = new URL(await t.app.getUrl()).port;
      // curl reads CURL_HOME/.curlrc: connect the examples' address to this app, and report each status.
      dir = mkdtempSync(join(tmpdir(), 'nestor-readme-'));
      writeFileSync(
        join(dir, '.curlrc'),
        [
          ...EXAMPLE_ORIGINS.map((origin) => `connect-to = "${origin}:127.0.0.1:${port}"`),
          'write-out = "%{stderr}\\nREADME-STATUS %{http_code} %{remote_port}\\n"',
          'max-time = 20',
          'no-progress-meter',
        ].join('\n'),
      );
      // The login answer's tokens, which the README names $ACCESS_TOKEN and $REFRESH.
      const login = await t.anonymous().inject({
        method: 'POST',
        url: '/api/auth/login',
        payload: { email: admin.ADMIN_EMAIL, password: admin.ADMIN_PASSWORD },
      });
      expect(login.statusCode).toBe(200);
      const { accessToken, refreshToken } = login.json<{ accessToken: string; refreshToken: string }>();
      variables = { ACCESS_TOKEN: accessToken, REFRESH: refreshToken };
    }, 120_000);
    afterAll(async () => {
      if (dir) {
        rmSync(dir, { recursive: true, force: true });
      }
      await t?.close();
    });

    it('finds the examples, each on the address `npm start` serves, with -g where the URL has brackets', () => {
      expect(examples.length).toBeGreaterThanOrEqual(8);
      console.log(`${examples.length} curl examples in ${EXAMPLE_FILES.join(', ')}`);
      const wrong = examples.flatMap(({ file, line, command }) => {
        const url = urlOf(command);
        const where = `${file}:${line}`;
        if (!url || !EXAMPLE_ORIGINS.some((origin) => url.replace(/^https?:\/\//, '').startsWith(origin))) {
          return [`${where}: no URL on ${EXAMPLE_ORIGINS.join(' or ')}: ${command}`];
        }
        return /[[\]{}]/.test(url) && !/\s(-g|--globoff)\b/.test(command)
          ? [`${where}: brackets need curl -g`]
          : [];
      });
      expect(wrong).toEqual([]);
    });

    it('answer 2xx/3xx (lists with rows), or the status their comment announces', async () => {
      const port = new URL(await t.app.getUrl()).port;
      const outcomes: string[] = [];
      // In document order, one at a time, as a reader runs them.
      for (const example of examples) {
        const { code, stdout, stderr } = await bash(example.command, { ...variables, CURL_HOME: dir });
        const seen = /README-STATUS (\d{3}) (\d+)/.exec(stderr);
        const status = seen ? Number(seen[1]) : undefined;
        const rows = rowsOf(stdout);
        const ok =
          code === 0 &&
          seen?.[2] === port &&
          (example.expected === undefined ? status! < 400 : status === example.expected) &&
          stdout.includes(example.message ?? '') &&
          rows !== 0; // a list example on the demo data that shows nothing shows the reader nothing
        outcomes.push(
          `${ok ? 'ok  ' : 'FAIL'} ${example.file}:${example.line} → ${status ?? `exit ${code}`}` +
            (rows === undefined ? '' : `, ${rows} rows`) +
            (ok ? '' : `\n     ${example.command}\n     ${stdout.slice(0, 300)} ${stderr.slice(0, 300)}`),
        );
      }
      expect(outcomes.filter((o) => o.startsWith('FAIL'))).toEqual([]);
      console.log(outcomes.join('\n'));
    }, 120_000);
  });
});

/** The rows of a list answer, undefined for anything else. */
function rowsOf(body: string): number | undefined {
  try {
    const { data } = JSON.parse(body) as { data?: unknown };
    return Array.isArray(data) ? data.length : undefined;
  } catch {
    return undefined;
  }
}

/** Runs a command line with bash (`-u`: a variable the test does not provide fails the example). */
function bash(
  command: string,
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      'bash',
      ['--norc', '--noprofile', '-uc', command],
      { cwd: ROOT, env: { PATH: process.env.PATH, ...env }, encoding: 'utf8', timeout: 30_000 },
      (error, stdout, stderr) => done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}
