#!/usr/bin/env node
import 'reflect-metadata';
import { AppModule } from 'src/app.module';
import { buildCli } from 'src/framework/cli/program';

buildCli((config) => AppModule.forRoot(config))
  .parseAsync(process.argv)
  .catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
