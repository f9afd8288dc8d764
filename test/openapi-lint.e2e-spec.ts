import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, bin, runNode } from 'test/support/processes';

/**
 * The committed OpenAPI document (test/snapshots/openapi.json; test/openapi.e2e-spec.ts keeps it equal to what
 * the app serves) through the linters API users run on it, with the rulesets in test/openapi/.
 */
const DOCUMENT = join(ROOT, 'test', 'snapshots', 'openapi.json');
/** Every API version's document: the default one, then the others (resources under `/api/v<n>/`). */
const DOCUMENTS = [
  { name: 'openapi.json', prefix: '' },
  { name: 'openapi-v2.json', prefix: '~1v2' },
].map((d) => ({ ...d, path: join(ROOT, 'test', 'snapshots', d.name) }));
const RULESETS = join(ROOT, 'test', 'openapi');

interface Finding {
  rule: string;
  severity: 'error' | 'warn' | 'info' | 'hint';
  /** JSON pointer into the document. */
  at: string;
  message: string;
}

const pointer = (path: (string | number)[]): string =>
  path.map((segment) => `/${String(segment).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');

/** Findings by rule, a line each: the count, then where (the first few) and what the first one says. */
function byRule(findings: Finding[]): string[] {
  const groups = new Map<string, Finding[]>();
  for (const f of findings) {
    groups.set(`${f.severity} ${f.rule}`, [...(groups.get(`${f.severity} ${f.rule}`) ?? []), f]);
  }
  return [...groups].map(([rule, list]) => {
    const where = list.slice(0, 3).map((f) => f.at);
    const more = list.length > 3 ? ` (+${list.length - 3} more)` : '';
    return `${rule} ×${list.length}: ${list[0].message} — at ${where.join(', ')}${more}`;
  });
}

/** `spectral lint` with a ruleset, as JSON. */
async function spectral(ruleset: string, document = DOCUMENT): Promise<Finding[]> {
  const run = await runNode([
    bin('@stoplight/spectral-cli', 'spectral'),
    'lint',
    document,
    '--ruleset',
    join(RULESETS, ruleset),
    '--format',
    'json',
    '--quiet',
  ]);
  const severities = ['error', 'warn', 'info', 'hint'] as const;
  const results = JSON.parse(run.stdout || `"${run.stderr}"`) as {
    code: string;
    severity: number;
    path: (string | number)[];
    message: string;
  }[];
  return results.map((r) => ({
    rule: r.code,
    severity: severities[r.severity],
    at: pointer(r.path),
    message: r.message,
  }));
}

interface Exception {
  rule: string;
  at: string[];
  reason: string;
}

/** A pointer pattern covers a finding at or below it; `*` is any characters within one segment. */
function covers(pattern: string, at: string): boolean {
  const segment = (p: string) =>
    p
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('[^/]*');
  return new RegExp(`^${segment(pattern)}(/|$)`).test(at);
}

describe('OpenAPI document through the public linters', () => {
  it.each(DOCUMENTS)(
    "$name passes Spectral's spectral:oas rules with no errors and no warnings",
    async (d) => {
      const findings = await spectral('oas.spectral.yaml', d.path);
      expect(byRule(findings)).toEqual([]);
    },
  );

  it('openapi-v2.json passes the OWASP ruleset, but for the same exceptions (at its /api/v2 paths)', async () => {
    const { exceptions } = JSON.parse(readFileSync(join(RULESETS, 'owasp-exceptions.json'), 'utf8')) as {
      exceptions: Exception[];
    };
    const [, v2] = DOCUMENTS;
    const versioned = (pattern: string) =>
      pattern.replace(/^\/paths\/~1api(?=~1)/, `/paths/~1api${v2.prefix}`);
    const findings = await spectral('owasp.spectral.yaml', v2.path);
    const excepted = (f: Finding) =>
      exceptions.some(
        (e) => e.rule === f.rule && e.at.some((p) => covers(p, f.at) || covers(versioned(p), f.at)),
      );
    expect(byRule(findings.filter((f) => !excepted(f)))).toEqual([]);
  });

  it('passes the OWASP ruleset, but for the committed exceptions, each with a reason', async () => {
    const { exceptions } = JSON.parse(readFileSync(join(RULESETS, 'owasp-exceptions.json'), 'utf8')) as {
      exceptions: Exception[];
    };
    for (const exception of exceptions) {
      expect(exception.reason).toMatch(/^[^\n]{20,300}$/);
      expect(exception.at.length).toBeGreaterThan(0);
    }
    const findings = await spectral('owasp.spectral.yaml');
    const excepted = (f: Finding) =>
      exceptions.some((e) => e.rule === f.rule && e.at.some((pattern) => covers(pattern, f.at)));
    expect(byRule(findings.filter((f) => !excepted(f)))).toEqual([]);
    // An exception that covers nothing any more is stale: remove it.
    const stale = exceptions.flatMap((e) =>
      e.at
        .filter((pattern) => !findings.some((f) => f.rule === e.rule && covers(pattern, f.at)))
        .map((pattern) => `${e.rule} at ${pattern || '(whole document)'}`),
    );
    expect(stale).toEqual([]);
  });

  it.each(DOCUMENTS)('$name passes Redocly recommended with no errors', async (d) => {
    const run = await runNode([
      bin('@redocly/cli', 'redocly'),
      'lint',
      d.path,
      '--config',
      join(RULESETS, 'redocly.yaml'),
      '--format',
      'json',
    ]);
    const { problems } = JSON.parse(run.stdout) as {
      problems: { ruleId: string; severity: string; message: string; location: { pointer: string }[] }[];
    };
    const errors = problems
      .filter((p) => p.severity === 'error')
      .map((p) => ({
        rule: p.ruleId,
        severity: 'error' as const,
        at: p.location[0]?.pointer.replace(/^#/, '') ?? '',
        message: p.message,
      }));
    expect(byRule(errors)).toEqual([]);
  });
});
