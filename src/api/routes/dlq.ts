/** The dead-letter queue: steps that failed for good, with what they were given; retry or discard. */
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { WorkflowApi } from '../../workflow/workflow-api.ts';
import { discardDlqRoute, getDlqRoute, listDlqRoute, retryDlqRoute } from '../contract/workflows.ts';
import { runView } from '../run-view.ts';

export function dlqRoutes(workflows: WorkflowApi): (app: OpenAPIHono) => void {
  return (app) => {
    app.openapi(listDlqRoute, async (c) => {
      const { status, limit, cursor } = c.req.valid('query');
      const page = await workflows.listDlq({
        limit: Math.floor(limit ?? 50),
        ...(status ? { status } : {}),
        ...(cursor ? { cursor } : {}),
      });
      return c.json(page, 200);
    });

    app.openapi(getDlqRoute, async (c) => c.json(await workflows.getDlq(c.req.valid('param').id), 200));

    app.openapi(retryDlqRoute, async (c) => c.json(runView(await workflows.retryDlq(c.req.valid('param').id)), 200));

    app.openapi(discardDlqRoute, async (c) => c.json(await workflows.discardDlq(c.req.valid('param').id), 200));
  };
}
