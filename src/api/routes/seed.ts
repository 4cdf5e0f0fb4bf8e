/** The article's API, unchanged: POST /execute and GET /sessions/{id}. */
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppDeps } from '../app.ts';
import { executeRoute, sessionRoute } from '../contract/tasks.ts';
import { readJson } from '../json-body.ts';
import { openapiReadingBody } from '../openapi.ts';
import { sessionView } from '../task-view.ts';

export function seedRoutes(app: OpenAPIHono, { tasks }: AppDeps): void {
  openapiReadingBody(app, executeRoute, async (c) => {
    const body = await readJson(c);
    const { task } = await tasks.submit(body, c.req.header('idempotency-key'));
    return c.json({ session_id: task.id, status: task.status }, 200);
  });

  app.openapi(sessionRoute, async (c) => c.json(sessionView(await tasks.get(c.req.valid('param').id)), 200));
}
