/** The files of `nestor generate job`, as template literals (Prettier formats them afterwards). */

export interface JobModel {
  /** The job's registered name, as given: `reports.cleanup`, `send-newsletter`. */
  jobName: string;
  /** `ReportsCleanup` */
  pascal: string;
  /** `src/app/reports` */
  folder: string;
  /** `reports-cleanup` */
  file: string;
  /** `ReportsCleanupJobModule` */
  moduleName: string;
}

export function jobTemplate({ jobName, pascal }: JobModel): string {
  return `import { Injectable, Logger } from '@nestjs/common';
import { IsInt, IsPositive } from 'class-validator';
import { Job, JobContext } from 'nestor';

/** What \`${jobName}\` receives: validated when it is enqueued and again before it runs. */
export class ${pascal}Payload {
  /** An example property: give the job ids, never whole rows (they may change before it runs). */
  @IsInt()
  @IsPositive()
  id!: number;
}

/**
 * The \`${jobName}\` job. Enqueue it through JobsService:
 * \`await jobs.enqueue('${jobName}', { id }, {}, manager)\` (with \`manager\`, after that transaction commits).
 * Jobs run at least once: use \`context.once(key, (manager) => …)\` for effects that must not repeat.
 */
@Injectable()
export class ${pascal}Job {
  private readonly logger = new Logger(${pascal}Job.name);

  @Job('${jobName}', { payload: ${pascal}Payload, attempts: 3, backoff: 1000 })
  run({ id }: ${pascal}Payload, context: JobContext): Promise<void> {
    this.logger.log(\`${jobName} for \${id} (job \${context.jobId}, attempt \${context.attempt})\`);
    return Promise.resolve();
  }
}
`;
}

export function jobModuleTemplate({ jobName, pascal, folder, file, moduleName }: JobModel): string {
  return `import { Module } from '@nestjs/common';
import { ${pascal}Job } from '${folder}/${file}.job';

/** Provides the \`${jobName}\` job; exported, so other modules can import this one and inject it. */
@Module({ providers: [${pascal}Job], exports: [${pascal}Job] })
export class ${moduleName} {}
`;
}

export function jobSpecTemplate({ jobName, pascal, folder, file }: JobModel): string {
  return `import { validate } from 'class-validator';
import { ${pascal}Job, ${pascal}Payload } from '${folder}/${file}.job';
import { JOB_METADATA, JobContext, JobDeclaration } from 'nestor';

const payload = (values: object): ${pascal}Payload => Object.assign(new ${pascal}Payload(), values);

describe(${pascal}Job.name, () => {
  const sut = new ${pascal}Job();
  const context: JobContext = { jobId: '1', attempt: 1, once: () => Promise.resolve(true) };

  it('is declared as the ${jobName} job', () => {
    const declaration = Reflect.getMetadata(JOB_METADATA, sut.run) as JobDeclaration;
    expect(declaration).toMatchObject({ name: '${jobName}', options: { payload: ${pascal}Payload } });
  });

  it('accepts a valid payload and refuses a bad one', async () => {
    expect(await validate(payload({ id: 1 }))).toEqual([]);
    const errors = await validate(payload({ id: 'one' }));
    expect(errors.map((e) => e.property)).toEqual(['id']);
  });

  it('runs', async () => {
    await expect(sut.run(payload({ id: 1 }), context)).resolves.toBeUndefined();
  });
});
`;
}
