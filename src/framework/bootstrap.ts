import type { Server } from 'node:http';
import type { Server as TlsServer } from 'node:tls';
import type { DynamicModule, INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Logger } from 'nestjs-pino';
import { ConfigError, LoadConfigOptions, LoadedConfig, loadConfig } from 'src/framework/config/load-config';
import { bootBanner, listenerUrl } from 'src/framework/boot-banner';
import { describeDatabase, describeJobBackend } from 'src/framework/config/nestor-config';
import { TlsFiles, readTlsCredentials } from 'src/framework/config/tls';
import { createNestorApp, drainHttp } from 'src/framework/create-app';
import { ReadinessGate } from 'src/framework/health/readiness-gate';
import { createWorkerProbes } from 'src/framework/health/worker-probes';
import { createRedirectServer } from 'src/framework/http/https-redirect';
import { NestorLogger } from 'src/framework/logging/nestor-logger';
import { releaseBootMemory } from 'src/framework/release-boot-memory';

/**
 * Builds the root module for a configuration; every entry point shares it.
 * Example: `const root: RootModuleFactory = (config) => AppModule.forRoot(config);`
 */
export type RootModuleFactory = (config: LoadedConfig) => DynamicModule;

/**
 * How long SIGTERM waits for in-flight requests and the other hooks before the process gives up and exits 1;
 * running jobs get JOBS_SHUTDOWN_TIMEOUT on top (JobsService waits that long before closing them anyway).
 */
const SHUTDOWN_TIMEOUT_MS = 15_000;

/** How long after listening the server hands boot's memory back (releaseBootMemory). */
const RELEASE_BOOT_MEMORY_AFTER_MS = 500;

/** After SIGTERM, how long an idle keep-alive connection may still bring one last request (drainHttp). */
const DRAIN_GRACE_MS = 2_000;

/** Loads the configuration or ends the process with the list of bad variables (exit 1, no stack). */
export function loadConfigOrExit(options?: LoadConfigOptions): LoadedConfig {
  try {
    return loadConfig(options);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}

/**
 * First SIGTERM/SIGINT closes the app (`drain` first: in-flight work finishes, database closes) and exits 0;
 * a second one forces exit 1.
 */
function closeOnSignals(
  app: INestApplicationContext,
  logger: Logger,
  { timeoutMs, drain, onClose }: { timeoutMs: number; drain?: () => Promise<void>; onClose?: () => void },
): void {
  let closing = false;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (closing) {
      logger.error(`${signal} received again: exiting before the shutdown finished`);
      process.exit(1);
    }
    closing = true;
    onClose?.();
    logger.log(`${signal} received: finishing in-flight work, then stopping`);
    setTimeout(() => {
      logger.error(`Shutdown took longer than ${timeoutMs} ms: exiting`);
      process.exit(1);
    }, timeoutMs).unref();
    Promise.resolve(drain?.())
      .then(() => app.close())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error({ err: error }, 'Error during shutdown');
          process.exit(1);
        },
      );
  };
  // `on`, not `once`: the second signal must reach `shutdown` (with `once` it would be ignored, or kill the
  // process by the signal's default action).
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

function fail(error: unknown): never {
  process.stderr.write(
    `Nestor failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
}

/**
 * SIGHUP re-reads TLS_CERT_FILE and TLS_KEY_FILE (a renewed certificate) into the listening server: new
 * handshakes get the new certificate, open connections keep theirs and are not dropped. Unreadable or
 * mismatched files are logged and the current certificate stays.
 */
function reloadCertificateOnSighup(server: TlsServer, files: TlsFiles, logger: Logger): void {
  process.on('SIGHUP', () => {
    try {
      server.setSecureContext(readTlsCredentials(files));
      logger.log(`SIGHUP: TLS certificate reloaded from ${files.certFile}`);
    } catch (error) {
      logger.error(
        `SIGHUP: TLS certificate not reloaded, keeping the current one: ${(error as Error).message}`,
      );
    }
  });
}

/** With TLS, HTTPS_REDIRECT and HTTP_PORT: the plain listener that sends browsers to HTTPS. */
async function listenForRedirects(config: LoadedConfig): Promise<Server | undefined> {
  if (!config.tls || !config.httpsRedirect || config.httpPort === undefined) {
    return undefined;
  }
  const server = createRedirectServer(config);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject).listen(config.httpPort, config.host, () => resolve());
  });
  return server;
}

/** WORKER_HEALTH_PORT: the worker's /health/live and /health/ready (createWorkerProbes). */
async function listenForWorkerProbes(
  app: INestApplicationContext,
  config: LoadedConfig,
): Promise<Server | undefined> {
  if (config.workerHealthPort === undefined) {
    return undefined;
  }
  const server = createWorkerProbes(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject).listen(config.workerHealthPort, config.host, () => resolve());
  });
  return server;
}

/** `src/main.ts`: serve the HTTP API, docs and operations endpoints. Example: `void serveHttp(AppModule.forRoot)`. */
export async function serveHttp(rootModule: RootModuleFactory): Promise<void> {
  const config = loadConfigOrExit();
  try {
    const app = await createNestorApp(rootModule(config), config);
    const logger = app.get(Logger);
    await app.listen({ port: config.port, host: config.host });
    const redirects = await listenForRedirects(config);
    if (config.tls) {
      reloadCertificateOnSighup(app.getHttpServer() as unknown as TlsServer, config.tls, logger);
    }
    closeOnSignals(app, logger, {
      timeoutMs: config.shutdownDrainMs + SHUTDOWN_TIMEOUT_MS + DRAIN_GRACE_MS + config.jobsShutdownTimeout,
      drain: async () => {
        redirects?.close();
        // Readiness fails first and the process goes on serving for SHUTDOWN_DRAIN_MS, so a load balancer
        // checking /health/ready stops routing here before the listener closes.
        app.get(ReadinessGate).close('shutting down');
        await new Promise((resolve) => setTimeout(resolve, config.shutdownDrainMs));
        await drainHttp(app, DRAIN_GRACE_MS);
      },
    });
    config.bootWarnings.forEach((warning) => logger.warn(warning));
    logger.log(await bootBanner(app, config));
    // Once serving, not before: the pause does not delay the first response.
    setTimeout(releaseBootMemory, RELEASE_BOOT_MEMORY_AFTER_MS).unref();
  } catch (error) {
    fail(error);
  }
}

/**
 * `src/worker.ts`: boot the same composition without HTTP and run until signalled.
 * Example: `void runWorker((config) => AppModule.forRoot(config));`
 */
export async function runWorker(rootModule: RootModuleFactory): Promise<void> {
  // The worker process exists to run job processors, whatever WORKERS says for the HTTP process.
  const config = loadConfigOrExit({ overrides: { workers: 'inline' } });
  try {
    const app = await NestFactory.createApplicationContext(rootModule(config), { bufferLogs: true });
    const logger = app.get(Logger);
    app.useLogger(new NestorLogger(logger));
    releaseBootMemory();
    const probes = await listenForWorkerProbes(app, config);
    // An application context has no server socket; this handle keeps the worker alive until a signal.
    const keepAlive = setInterval(() => undefined, 1 << 30);
    closeOnSignals(app, logger, {
      timeoutMs: SHUTDOWN_TIMEOUT_MS + config.jobsShutdownTimeout,
      // Readiness turns red at once; liveness answers until the process exits, so no probe kills it mid-way.
      onClose: () => {
        clearInterval(keepAlive);
        app.get(ReadinessGate).close('shutting down');
      },
    });
    config.bootWarnings.forEach((warning) => logger.warn(warning));
    logger.log(
      `Nestor worker ready. Database: ${describeDatabase(config)}. Jobs: ${describeJobBackend(config)}${
        probes ? `. Probes: ${listenerUrl(config.host, config.workerHealthPort)}/health/ready` : ''
      }`,
    );
  } catch (error) {
    fail(error);
  }
}
