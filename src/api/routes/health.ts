import type { Hono } from 'hono';
import type { AppDeps } from '../app.ts';

/** Liveness for load balancers and the article's "connection refused" check; needs no key. */
export function healthRoutes(app: Hono, _deps: AppDeps): void {
  app.get('/health', (c) => c.json({ status: 'ok' }));
}
