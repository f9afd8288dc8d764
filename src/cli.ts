#!/usr/bin/env node
import 'src/framework/compile-cache';
import 'reflect-metadata';
import { AppModule } from 'src/app.module';
import { shopSeeder } from 'src/app/seed';
import { CliError, failureReport } from 'src/framework/cli/context';
import { buildCli } from 'src/framework/cli/program';
import { registerSeedCommand } from 'src/framework/cli/seed.command';

// `nestor routes | head` closes the pipe early: that is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') {
    process.exit(0);
  }
  throw error;
});

buildCli((config) => AppModule.forRoot(config), { extend: [registerSeedCommand(shopSeeder)] })
  .parseAsync(process.argv)
  .catch((error: unknown) => {
    // One line (the stack with --verbose), printed once.
    process.stderr.write(failureReport(error));
    process.exit(error instanceof CliError ? error.exitCode : 1);
  });
