import type { Hono } from 'hono';
import type { AppDeps } from '../app.ts';

/**
 * Liveness for load balancers and the article's "connection refused" check; needs no key. It also says
 * whether tasks run in the OS sandbox, so an operator sees at once when they do not.
 */
export function healthRoutes(app: Hono, deps: AppDeps): void {
  app.get('/health', (c) => c.json({ status: 'ok', sandbox: deps.sandbox ?? null }));
}
