/**
 * The HTTP application. Errors become responses in exactly one place (onError below): an AppError
 * keeps its kind, status and field; anything else is logged and answered as a bare `internal` error,
 * never a stack trace.
 */
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { AppError } from '../errors.ts';
import type { Metrics } from '../metrics.ts';
import type { SandboxStatus } from '../runners/claude/sandbox.ts';
import { isStoreUnavailable } from '../store/unavailable.ts';
import type { TaskService } from '../tasks/task-service.ts';
import { apiKeyAuth } from './auth.ts';
import { bodyLimit } from './body-limit.ts';
import { createOpenApiApp } from './openapi.ts';
import { dashboardRoutes } from './routes/dashboard.ts';
import { docsRoutes } from './routes/docs.ts';
import { healthRoutes } from './routes/health.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { seedRoutes } from './routes/seed.ts';
import { sessionRoutes } from './routes/session.ts';
import { taskRoutes } from './routes/tasks.ts';
import { SessionStore } from './sessions.ts';

export interface AppDeps {
  config: Config;
  tasks: TaskService;
  logger: Logger;
  metrics: Metrics;
  /** The OS sandbox tasks run in, shown on /health. */
  sandbox?: SandboxStatus;
  /**
   * Routers mounted ahead of the API key check, for requests that carry their own authentication
   * (signed inbound webhooks). A route answers there and the key check never runs for it.
   */
  openRoutes?: Array<(app: OpenAPIHono) => void>;
  /** Extra routers mounted under the same auth and error handling (workflows, runs, DLQ …). */
  extraRoutes?: Array<(app: OpenAPIHono) => void>;
  /** The built dashboard (default: dashboard/dist of this install). */
  dashboardDir?: string;
}

/** Routes are mounted from the contract (src/api/contract/), which /openapi.json is generated from. */
export function createApp(deps: AppDeps): OpenAPIHono {
  const app = createOpenApiApp();

  app.onError((err, c) => {
    if (err instanceof AppError) {
      if (err.retryAfter !== undefined) c.header('Retry-After', String(err.retryAfter));
      const body: { kind: string; message: string; field?: string } = { kind: err.kind, message: err.message };
      if (err.field !== undefined) body.field = err.field;
      return c.json({ error: body }, err.status as 400);
    }
    if (isStoreUnavailable(err)) {
      deps.logger.warn({ err, path: c.req.path }, 'database unreachable');
      c.header('Retry-After', '2');
      const message = 'the database cannot be reached right now; retry shortly';
      return c.json({ error: { kind: 'overloaded', message } }, 503);
    }
    deps.logger.error({ err, path: c.req.path }, 'unhandled error');
    return c.json({ error: { kind: 'internal', message: 'internal error' } }, 500);
  });
  app.notFound((c) =>
    c.json({ error: { kind: 'not_found', message: `no route for ${c.req.method} ${c.req.path}` } }, 404),
  );

  healthRoutes(app, deps);
  docsRoutes(app);
  for (const mount of deps.openRoutes ?? []) mount(app);
  // The dashboard's page and assets hold no data: they load before a login, which they then ask for.
  dashboardRoutes(app, deps.dashboardDir);
  const sessions = new SessionStore();
  sessionRoutes(app, deps.config.apiKeys, sessions);
  app.use('*', apiKeyAuth(deps.config.apiKeys, sessions));
  // Room for the largest prompt plus the rest of the request.
  app.use(
    '*',
    bodyLimit(
      deps.config.maxPromptBytes + 256 * 1024,
      `request body is larger than ${deps.config.maxPromptBytes} bytes`,
    ),
  );
  metricsRoutes(app, deps.metrics);
  seedRoutes(app, deps);
  taskRoutes(app, deps);
  for (const mount of deps.extraRoutes ?? []) mount(app);
  return app;
}
