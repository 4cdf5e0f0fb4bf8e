/** Resource pools: capacity, the steps holding slots and those waiting for one. */
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { WorkflowApi } from '../../workflow/workflow-api.ts';
import { listPoolsRoute } from '../contract/pools.ts';

export function poolRoutes(workflows: Pick<WorkflowApi, 'listPools'>): (app: OpenAPIHono) => void {
  return (app) => {
    app.openapi(listPoolsRoute, async (c) => c.json({ items: await workflows.listPools() }, 200));
  };
}
