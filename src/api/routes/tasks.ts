/** The v1 task API: submit, read (long-poll), list, events (SSE), cancel, follow-up messages. */
import type { OpenAPIHono } from '@hono/zod-openapi';
import { type TaskEvent, type TaskStatus, TERMINAL } from '../../store/store.ts';
import type { AppDeps } from '../app.ts';
import {
  cancelTaskRoute,
  getTaskRoute,
  listTasksRoute,
  submitTaskRoute,
  taskEventsRoute,
  taskMessageRoute,
} from '../contract/tasks.ts';
import { readJson } from '../json-body.ts';
import { openapiReadingBody } from '../openapi.ts';
import { streamEvents } from '../sse.ts';
import { taskView } from '../task-view.ts';

export function taskRoutes(app: OpenAPIHono, { tasks }: AppDeps): void {
  // The task service validates the body: its limits come from the config (SWITCHYARD_MAX_TIMEOUT).
  openapiReadingBody(app, submitTaskRoute, async (c) => {
    const body = await readJson(c);
    const { task, created } = await tasks.submit(body, c.req.header('idempotency-key'));
    return created ? c.json(taskView(task), 201) : c.json(taskView(task), 200);
  });

  app.openapi(listTasksRoute, async (c) => {
    const { status, limit, cursor } = c.req.valid('query');
    const page = await tasks.list(status, Math.floor(limit ?? 50), cursor);
    return c.json({ items: page.items.map(taskView), next_cursor: page.next_cursor }, 200);
  });

  app.openapi(getTaskRoute, async (c) => {
    const waitSeconds = c.req.valid('query').wait ?? 0;
    const task = await tasks.wait(c.req.valid('param').id, waitSeconds * 1000, c.req.raw.signal);
    return c.json(taskView(task), 200);
  });

  app.openapi(cancelTaskRoute, async (c) => c.json(taskView(await tasks.cancel(c.req.valid('param').id)), 200));

  openapiReadingBody(app, taskMessageRoute, async (c) => {
    const task = await tasks.sendMessage(c.req.valid('param').id, await readJson(c));
    return c.json(taskView(task), 202);
  });

  app.openapi(taskEventsRoute, async (c) => {
    const { id } = c.req.valid('param');
    await tasks.get(id);
    return streamEvents<TaskEvent>(c, {
      replay: (after, limit) => tasks.events(id, after, limit),
      subscribe: (listener) => tasks.onEvent(id, listener),
      ends: (e) => (e.type === 'status' ? TERMINAL.has((e.data as { status: TaskStatus }).status) : undefined),
      isOver: async () => TERMINAL.has((await tasks.get(id)).status),
    });
  });
}
