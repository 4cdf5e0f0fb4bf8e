import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Metrics } from '../../metrics.ts';
import { metricsRoute } from '../contract/system.ts';

export function metricsRoutes(app: OpenAPIHono, metrics: Metrics): void {
  app.openapi(metricsRoute, async (c) =>
    c.text(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType }),
  );
}
