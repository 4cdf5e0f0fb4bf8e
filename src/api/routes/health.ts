import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppDeps } from '../app.ts';
import { healthRoute } from '../contract/system.ts';

/**
 * Liveness for load balancers and the article's "connection refused" check; needs no key. It also says
 * whether tasks run in the OS sandbox, so an operator sees at once when they do not.
 */
export function healthRoutes(app: OpenAPIHono, deps: Pick<AppDeps, 'sandbox'>): void {
  app.openapi(healthRoute, (c) => c.json({ status: 'ok' as const, sandbox: deps.sandbox ?? null }, 200));
}
