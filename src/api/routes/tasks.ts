/** The v1 task API: submit, read (long-poll), list, events (SSE), cancel, follow-up messages. */
import type { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { AppError } from '../../errors.ts';
import { type TaskEvent, type TaskStatus, TERMINAL } from '../../store/store.ts';
import type { AppDeps } from '../app.ts';
import { readJson } from '../json-body.ts';
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
    const task = await tasks.get(id);
    const lastId = c.req.header('last-event-id') ?? c.req.query('after');
    let after = 0;
    if (lastId !== undefined && lastId !== '') {
      if (!/^\d{1,12}$/.test(lastId)) {
        throw new AppError('validation', 'Last-Event-ID must be an event id from this stream', {
          field: 'Last-Event-ID',
        });
      }
      after = Number(lastId);
    }
    return streamSSE(c, async (stream) => {
      // Subscribe before replaying so nothing falls between the replay and the live feed; the seq
      // check drops what the replay already sent.
      const live: TaskEvent[] = [];
      let wake: (() => void) | undefined;
      const off = tasks.onEvent(id, (e) => {
        live.push(e);
        wake?.();
      });
      stream.onAbort(() => {
        off();
        wake?.();
      });
      const send = async (e: TaskEvent) => {
        after = e.seq;
        await stream.writeSSE({ id: String(e.seq), event: e.type, data: JSON.stringify(e.data) });
        return e.type === 'status' && TERMINAL.has((e.data as { status: TaskStatus }).status);
      };
      try {
        let ended = false;
        for (;;) {
          const page = await tasks.events(id, after, 500);
          for (const e of page) ended = (await send(e)) || ended;
          if (page.length < 500) break;
        }
        // A task that ended before any status event was stored (old data) still closes the stream.
        if (!ended && TERMINAL.has(task.status) && after === 0) ended = true;
        while (!ended && !stream.aborted) {
          if (live.length === 0) {
            await new Promise<void>((resolve) => {
              wake = resolve;
              setTimeout(resolve, 15_000);
            });
            wake = undefined;
            if (live.length === 0 && !stream.aborted) await stream.write(': keep-alive\n\n');
            continue;
          }
          const e = live.shift()!;
          if (e.seq <= after) continue;
          ended = await send(e);
        }
      } finally {
        off();
      }
    });
  });
}
