/** The article's API, unchanged: POST /execute and GET /sessions/{id}. */
import type { Hono } from 'hono';
import type { AppDeps } from '../app.ts';
import { readJson } from '../json-body.ts';
import { sessionView } from '../task-view.ts';

export function seedRoutes(app: Hono, { tasks }: AppDeps): void {
  app.post('/execute', async (c) => {
    const body = await readJson(c);
    const { task } = await tasks.submit(body, c.req.header('idempotency-key'));
    return c.json({ session_id: task.id, status: task.status });
  });

  app.get('/sessions/:id', async (c) => c.json(sessionView(await tasks.get(c.req.param('id')))));
}
