import { Server, ServerResponse, createServer } from 'node:http';
import { type INestApplicationContext, Logger } from '@nestjs/common';
import { HealthController } from 'src/framework/health/health.controller';
import { Problem, PROBLEM_TYPES } from 'src/framework/http/problem';
import { toProblem } from 'src/framework/http/problem.filter';
import { PROBLEM_CONTENT_TYPE, pathOf } from 'src/framework/http/send-problem';

const PROBES = new Set(['/health/live', '/health/ready']);

function send(
  response: ServerResponse,
  status: number,
  body: object,
  type = 'application/json; charset=utf-8',
): void {
  const json = JSON.stringify(body);
  response
    .writeHead(status, {
      'content-type': type,
      'content-length': Buffer.byteLength(json),
      'cache-control': 'no-store',
    })
    .end(response.req.method === 'HEAD' ? undefined : json);
}

function answerProblem(
  response: ServerResponse,
  problem: Problem,
  headers: Record<string, string> = {},
): void {
  for (const [name, value] of Object.entries(headers)) {
    response.setHeader(name, value);
  }
  send(
    response,
    problem.status,
    { ...problem, instance: pathOf(response.req.url ?? '/') },
    PROBLEM_CONTENT_TYPE,
  );
}

/**
 * WORKER_HEALTH_PORT: a worker's probes, answered as the HTTP process answers them (a worker serves nothing
 * else): `GET /health/live` is 200 while the event loop turns, and `GET /health/ready` runs the API's own
 * readiness checks (database, migrations, Redis when configured, and shutdown: red from SIGTERM on), 503
 * problem+json naming what failed. For Kubernetes' `httpGet` probes, Compose's healthcheck or a monitor;
 * Sidekiq and Celery need a plugin or a CLI call for this.
 * Example: `createWorkerProbes(app).listen(config.workerHealthPort, config.host)` (runWorker does).
 */
export function createWorkerProbes(app: INestApplicationContext): Server {
  const health = app.get(HealthController, { strict: false });
  const logger = new Logger('WorkerProbes');
  return createServer((request, response) => {
    const path = pathOf(request.url ?? '/');
    if (!PROBES.has(path)) {
      answerProblem(response, {
        type: PROBLEM_TYPES.notFound,
        title: 'Not Found',
        status: 404,
        detail: 'A worker answers GET /health/live and /health/ready only.',
      });
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      answerProblem(
        response,
        {
          type: 'about:blank',
          title: 'Method Not Allowed',
          status: 405,
          detail: `${path} takes GET or HEAD.`,
        },
        { allow: 'GET, HEAD' },
      );
      return;
    }
    if (path === '/health/live') {
      send(response, 200, { status: 'ok' });
      return;
    }
    health.ready().then(
      (result) => send(response, 200, result),
      (error: unknown) => {
        const { problem, headers, unexpected } = toProblem(error);
        if (unexpected) {
          logger.error({ err: error }, 'Readiness check failed unexpectedly');
        }
        answerProblem(response, problem, headers);
      },
    );
  });
}
