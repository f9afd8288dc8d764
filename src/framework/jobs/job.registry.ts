import { Injectable, OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { PRIORITY_LIMIT } from 'bullmq';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import { CronExpressionParser } from 'cron-parser';
import { cacheValidationMetadata } from 'src/framework/http/validation-metadata-cache';
import { JOB_METADATA, JobContext, JobDeclaration, JobOptions } from 'src/framework/jobs/job.decorator';

/** A bad job declaration: boot stops with this coded message. */
export class JobDeclarationError extends Error {
  constructor(code: string, message: string) {
    super(`${code} ${message}`);
    this.name = 'JobDeclarationError';
  }
}

/** An enqueue or a handled job whose payload does not validate. */
export class JobPayloadError extends Error {
  constructor(
    readonly job: string,
    readonly problems: string[],
  ) {
    super(`NST-J006 Invalid payload for job ${job}: ${problems.join('; ')}`);
    this.name = 'JobPayloadError';
  }
}

/** An enqueue whose options the queue would refuse (nothing is written). */
export class JobOptionsError extends Error {
  constructor(
    readonly job: string,
    readonly problems: string[],
  ) {
    super(`NST-J008 Invalid options for job ${job}: ${problems.join('; ')}`);
    this.name = 'JobOptionsError';
  }
}

/** The highest priority bullmq accepts (it refuses a higher one when the job is published); 0 is none. */
export const JOB_PRIORITY_MAX = PRIORITY_LIMIT;
/** The longest delay in ms: the outbox's delay column is a PostgreSQL integer (about 24.8 days). */
export const JOB_DELAY_MAX_MS = 2_147_483_647;

/**
 * What is wrong with a job's `priority` and `delay` (none: an empty list), checked before anything is
 * written: a value bullmq refuses would otherwise leave the row unpublishable, retried by the sweeper forever.
 */
export function jobOptionProblems(options: { priority?: unknown; delay?: unknown }): string[] {
  const problems: string[] = [];
  const { priority, delay } = options;
  // null is "none", as the outbox column it goes to.
  if (priority !== undefined && priority !== null && !isIntegerIn(priority, JOB_PRIORITY_MAX)) {
    problems.push(`priority must be an integer from 0 to ${JOB_PRIORITY_MAX} (got ${shown(priority)})`);
  }
  if (delay !== undefined && delay !== null && !isIntegerIn(delay, JOB_DELAY_MAX_MS)) {
    problems.push(`delay must be an integer from 0 to ${JOB_DELAY_MAX_MS} ms (got ${shown(delay)})`);
  }
  return problems;
}

function isIntegerIn(value: unknown, max: number): boolean {
  return Number.isInteger(value) && (value as number) >= 0 && (value as number) <= max;
}

/** A bad option value as a message shows it: `1.5`, `NaN`, `"5"` (a string from JavaScript), `object`. */
function shown(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'bigint') {
    return String(value);
  }
  return typeof value === 'string' ? JSON.stringify(value) : typeof value;
}

export interface JobDefinition {
  name: string;
  options: Required<Pick<JobOptions, 'attempts' | 'backoff' | 'timeout' | 'concurrency'>> & JobOptions;
  handle(payload: object, context: JobContext): Promise<void>;
  /** Where it was declared, for messages: `OrderJobs.sendConfirmation`. */
  origin: string;
}

/** Job names: lowercase words joined by "." or "-". */
export const JOB_NAME_RE = /^[a-z0-9]+([.-][a-z0-9]+)*$/;
/** At most this long, so a name fits the path segment of the admin's job routes (Fastify's limit is 100). */
export const JOB_NAME_MAX_LENGTH = 100;

/** Collects every `@Job` handler at boot and checks the declarations (NST-J001…J004). */
@Injectable()
export class JobRegistry implements OnModuleInit {
  private readonly jobs = new Map<string, JobDefinition>();

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
  ) {}

  onModuleInit(): void {
    cacheValidationMetadata(); // every job's payload is validated twice: at enqueue and when it runs
    for (const wrapper of this.discovery.getProviders()) {
      const instance = wrapper.instance as Record<string, unknown> | undefined;
      if (!instance || typeof instance !== 'object' || !wrapper.isDependencyTreeStatic()) {
        continue;
      }
      const prototype = Object.getPrototypeOf(instance) as object;
      for (const method of this.scanner.getAllMethodNames(prototype)) {
        const handler = instance[method] as (...args: unknown[]) => Promise<void>;
        const declaration = this.reflector.get<JobDeclaration | undefined>(JOB_METADATA, handler);
        if (declaration) {
          this.add(declaration, `${instance.constructor.name}.${method}`, handler.bind(instance));
        }
      }
    }
  }

  private add({ name, options }: JobDeclaration, origin: string, handle: JobDefinition['handle']): void {
    const fail = (code: string, message: string): never => {
      throw new JobDeclarationError(code, `${origin}: ${message}`);
    };
    if (!JOB_NAME_RE.test(name) || name.length > JOB_NAME_MAX_LENGTH) {
      fail(
        'NST-J004',
        `job name "${name}" must be lowercase words joined by "." or "-", at most ${JOB_NAME_MAX_LENGTH} characters`,
      );
    }
    const existing = this.jobs.get(name);
    if (existing) {
      fail('NST-J001', `job "${name}" is already handled by ${existing.origin}`);
    }
    if (typeof options.payload !== 'function') {
      fail('NST-J002', `job "${name}" has no payload class (options.payload)`);
    }
    if (options.cron !== undefined) {
      try {
        CronExpressionParser.parse(options.cron);
      } catch (error) {
        fail('NST-J003', `job "${name}" has an invalid cron "${options.cron}": ${(error as Error).message}`);
      }
    }
    const resolved = { attempts: 3, backoff: 1000, timeout: 60_000, concurrency: 1, ...options };
    for (const key of ['attempts', 'backoff', 'timeout', 'concurrency'] as const) {
      if (!Number.isInteger(resolved[key]) || resolved[key] < (key === 'backoff' ? 0 : 1)) {
        fail('NST-J004', `job "${name}" option ${key} must be a positive integer`);
      }
    }
    for (const problem of jobOptionProblems({ priority: options.priority })) {
      fail('NST-J004', `job "${name}" option ${problem}`);
    }
    this.jobs.set(name, { name, options: resolved, handle, origin });
  }

  /** The definition of a job, or a coded error naming the known jobs. */
  get(name: string): JobDefinition {
    const job = this.jobs.get(name);
    if (!job) {
      throw new Error(`NST-J005 Unknown job "${name}" (jobs: ${[...this.jobs.keys()].join(', ') || 'none'})`);
    }
    return job;
  }

  all(): JobDefinition[] {
    return [...this.jobs.values()];
  }

  /** The payload as its class, or a JobPayloadError listing every problem. */
  async validatePayload(job: JobDefinition, payload: unknown): Promise<object> {
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
      throw new JobPayloadError(job.name, ['the payload must be an object']);
    }
    const instance = plainToInstance(job.options.payload, payload) as object;
    // forbidUnknownValues off: a payload class without properties (a cron job's `{}`) is valid; unknown
    // properties are still refused by forbidNonWhitelisted.
    const errors = await validate(instance, {
      whitelist: true,
      forbidNonWhitelisted: true,
      forbidUnknownValues: false,
    });
    if (errors.length > 0) {
      throw new JobPayloadError(
        job.name,
        errors.map(
          (e) => `${e.property}: ${Object.values(e.constraints ?? { invalid: 'is invalid' }).join(', ')}`,
        ),
      );
    }
    return instance;
  }
}
