// A built Nestor app plus one slow test job, run as a real process by test/jobs-faults.e2e-spec.ts.
// Plain CommonJS on top of dist/ (the tests build it first), so the child runs exactly the shipped framework
// code; decorators are applied by hand. Usage: `node test/support/fault-app.js worker|http`.
// Lines on stdin `enqueue <key> <ms> [<hold>]` enqueue `faults.slow` inside a transaction (the outbox path).
'use strict';
// As the shipped entry points do (src/framework/compile-cache.ts), before anything heavy loads: a start
// reuses V8's compiled code of the last one, which the scale test's many process starts feel.
require('node:module').enableCompileCache?.();
require('reflect-metadata');
const { join } = require('node:path');
const { createInterface } = require('node:readline');
const { Injectable, Module } = require('@nestjs/common');
const { IsInt, IsOptional, IsString, Min } = require('class-validator');
const { DataSource } = require('typeorm');

const dist = join(__dirname, '..', '..', 'dist', 'src');
const { AppModule } = require(join(dist, 'app.module.js'));
const { runWorker, serveHttp } = require(join(dist, 'framework', 'bootstrap.js'));
const { Job } = require(join(dist, 'framework', 'jobs', 'job.decorator.js'));
const { JobsService } = require(join(dist, 'framework', 'jobs', 'jobs.service.js'));

class SlowPayload {}
IsString()(SlowPayload.prototype, 'key');
IsInt()(SlowPayload.prototype, 'ms');
Min(0)(SlowPayload.prototype, 'ms');
IsOptional()(SlowPayload.prototype, 'hold');
IsInt()(SlowPayload.prototype, 'hold');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

class FaultJobs {
  constructor(jobs, dataSource) {
    this.jobs = jobs;
    this.dataSource = dataSource;
  }

  /**
   * Sleeps `ms`, then records its effect once (`fault_effect` has no unique key: a second effect would show),
   * then sleeps `hold` more (a window to kill the worker in after the effect committed).
   */
  async slow({ key, ms, hold }, ctx) {
    process.stdout.write(`fault-job start ${key} attempt=${ctx.attempt} pid=${process.pid}\n`);
    await sleep(ms);
    const done = await ctx.once(`fault:${key}`, (manager) =>
      manager.query('INSERT INTO fault_effect (key, "jobId", pid) VALUES ($1, $2, $3)', [
        key,
        ctx.jobId,
        process.pid,
      ]),
    );
    process.stdout.write(`fault-job done ${key} effect=${done} pid=${process.pid}\n`);
    await sleep(hold ?? 0);
  }

  onApplicationBootstrap() {
    const lines = createInterface({ input: process.stdin });
    lines.on('line', (line) => {
      const [command, key, ms, hold] = line.trim().split(/\s+/);
      if (command !== 'enqueue') {
        return;
      }
      this.dataSource
        .transaction((manager) =>
          this.jobs.enqueue(
            'faults.slow',
            { key, ms: Number(ms), ...(hold ? { hold: Number(hold) } : {}) },
            {},
            manager,
          ),
        )
        .then(
          (id) => process.stdout.write(`fault-enqueued ${key} ${id}\n`),
          (error) => process.stdout.write(`fault-enqueue-failed ${key} ${error.message}\n`),
        );
    });
  }
}
Reflect.defineMetadata('design:paramtypes', [JobsService, DataSource], FaultJobs);
// FAULT_CONCURRENCY: jobs one worker runs at once (default 1).
Job('faults.slow', {
  payload: SlowPayload,
  attempts: 3,
  backoff: 100,
  concurrency: Number(process.env.FAULT_CONCURRENCY ?? 1),
})(FaultJobs.prototype, 'slow', Object.getOwnPropertyDescriptor(FaultJobs.prototype, 'slow'));
Injectable()(FaultJobs);

class FaultAppModule {}
Module({})(FaultAppModule);

const root = (config) => ({
  module: FaultAppModule,
  imports: [AppModule.forRoot(config)],
  providers: [FaultJobs],
});

if (process.argv[2] === 'http') {
  void serveHttp(root);
} else {
  void runWorker(root);
}
