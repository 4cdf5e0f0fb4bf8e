/** The v1 task API: submit, read (long-poll), list, events (SSE), cancel, follow-up messages. */
import type { Hono } from 'hono';
import { AppError } from '../../errors.ts';
import { type TaskEvent, type TaskStatus, TERMINAL } from '../../store/store.ts';
import type { AppDeps } from '../app.ts';
import { readJson } from '../json-body.ts';
import { streamEvents } from '../sse.ts';
import { taskView } from '../task-view.ts';

const STATUSES: TaskStatus[] = ['queued', 'running', 'awaiting_approval', 'completed', 'failed'];

export function intParam(value: string | undefined, name: string, min: number, max: number, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > max) {
    throw new AppError('validation', `${name} must be a number between ${min} and ${max}`, { field: name });
  }
  return n;
}

export function taskRoutes(app: Hono, { tasks }: AppDeps): void {
  app.post('/v1/tasks', async (c) => {
    const body = await readJson(c);
    const { task, created } = await tasks.submit(body, c.req.header('idempotency-key'));
    return c.json(taskView(task), created ? 201 : 200);
  });

  app.get('/v1/tasks', async (c) => {
    const status = c.req.query('status');
    if (status !== undefined && !STATUSES.includes(status as TaskStatus)) {
      throw new AppError('validation', `status must be one of ${STATUSES.join(', ')}`, { field: 'status' });
    }
    const cursor = c.req.query('cursor');
    if (cursor !== undefined && !/^\d{1,18}$/.test(cursor)) {
      throw new AppError('validation', 'cursor must be a value returned as next_cursor', { field: 'cursor' });
    }
    const limit = Math.floor(intParam(c.req.query('limit'), 'limit', 1, 200, 50));
    const page = await tasks.list(status as TaskStatus | undefined, limit, cursor);
    return c.json({ items: page.items.map(taskView), next_cursor: page.next_cursor });
  });

  app.get('/v1/tasks/:id', async (c) => {
    const waitSeconds = intParam(c.req.query('wait'), 'wait', 0, 300, 0);
    const task = await tasks.wait(c.req.param('id'), waitSeconds * 1000, c.req.raw.signal);
    return c.json(taskView(task));
  });

  app.post('/v1/tasks/:id/cancel', async (c) => c.json(taskView(await tasks.cancel(c.req.param('id')))));

  app.post('/v1/tasks/:id/messages', async (c) => {
    const task = await tasks.sendMessage(c.req.param('id'), await readJson(c));
    return c.json(taskView(task), 202);
  });

  app.get('/v1/tasks/:id/events', async (c) => {
    const id = c.req.param('id');
    await tasks.get(id);
    return streamEvents<TaskEvent>(c, {
      replay: (after, limit) => tasks.events(id, after, limit),
      subscribe: (listener) => tasks.onEvent(id, listener),
      ends: (e) => (e.type === 'status' ? TERMINAL.has((e.data as { status: TaskStatus }).status) : undefined),
      isOver: async () => TERMINAL.has((await tasks.get(id)).status),
    });
  });
}
