/**
 * The HTTP side of a worker process (SWITCHYARD_ROLE=worker): liveness for the orchestrator that runs
 * it and metrics for the one that scrapes it, nothing else. Tasks and runs reach a worker through the
 * queue, never through its port; everything else answers 404 naming the role.
 */
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.ts';
import type { SandboxStatus } from '../runners/claude/sandbox.ts';
import { apiKeyAuth } from './auth.ts';
import { createOpenApiApp } from './openapi.ts';
import { healthRoutes } from './routes/health.ts';
import { metricsRoutes } from './routes/metrics.ts';

export interface WorkerAppDeps {
  apiKeys: string[];
  logger: Logger;
  metrics: Metrics;
  sandbox?: SandboxStatus;
}

export function createWorkerApp(deps: WorkerAppDeps): OpenAPIHono {
  const app = createOpenApiApp();
  app.onError((err, c) => {
    deps.logger.error({ err, path: c.req.path }, 'unhandled error');
    return c.json({ error: { kind: 'internal', message: 'internal error' } }, 500);
  });
  app.notFound((c) =>
    c.json(
      {
        error: {
          kind: 'not_found',
          message: `no route for ${c.req.method} ${c.req.path}: this process is a worker (SWITCHYARD_ROLE=worker), it serves /health and /metrics only`,
        },
      },
      404,
    ),
  );
  healthRoutes(app, deps);
  app.use('*', apiKeyAuth(deps.apiKeys));
  metricsRoutes(app, deps.metrics);
  return app;
}
