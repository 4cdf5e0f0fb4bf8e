import type { Hono } from 'hono';
import type { Metrics } from '../../metrics.ts';

export function metricsRoutes(app: Hono, metrics: Metrics): void {
  app.get('/metrics', async (c) => {
    c.header('content-type', metrics.registry.contentType);
    return c.body(await metrics.registry.metrics());
  });
}
