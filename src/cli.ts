#!/usr/bin/env node
// `nestor/cli` first: it turns on the compile cache before the rest of the app loads.
import { buildCli, CliError, failureReport, registerSeedCommand } from 'nestor/cli';
import { AppModule } from 'src/app.module';
import { shopSeeder } from 'src/app/seed';

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
