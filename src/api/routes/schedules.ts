/** Schedules (cron triggers of the registered workflows): list, pause, resume. */
import type { Hono } from 'hono';
import type { Schedules } from '../../triggers/schedules.ts';

export function scheduleRoutes(schedules: Pick<Schedules, 'list' | 'pause' | 'resume'>): (app: Hono) => void {
  return (app) => {
    app.get('/v1/schedules', async (c) => c.json({ items: await schedules.list() }));

    // A trigger without a name is identified by its cron expression: clients percent-encode it.
    app.post('/v1/schedules/:workflow/:trigger/pause', async (c) =>
      c.json(await schedules.pause(c.req.param('workflow'), c.req.param('trigger'))),
    );

    app.post('/v1/schedules/:workflow/:trigger/resume', async (c) =>
      c.json(await schedules.resume(c.req.param('workflow'), c.req.param('trigger'))),
    );
  };
}
