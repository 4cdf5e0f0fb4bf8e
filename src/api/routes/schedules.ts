/** Schedules (cron triggers of the registered workflows): list, pause, resume. */
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Schedules } from '../../triggers/schedules.ts';
import { listSchedulesRoute, pauseScheduleRoute, resumeScheduleRoute } from '../contract/schedules.ts';

export function scheduleRoutes(schedules: Pick<Schedules, 'list' | 'pause' | 'resume'>): (app: OpenAPIHono) => void {
  return (app) => {
    app.openapi(listSchedulesRoute, async (c) => c.json({ items: await schedules.list() }, 200));

    // A trigger without a name is identified by its cron expression: clients percent-encode it.
    app.openapi(pauseScheduleRoute, async (c) => {
      const { workflow, trigger } = c.req.valid('param');
      return c.json(await schedules.pause(workflow, trigger), 200);
    });

    app.openapi(resumeScheduleRoute, async (c) => {
      const { workflow, trigger } = c.req.valid('param');
      return c.json(await schedules.resume(workflow, trigger), 200);
    });
  };
}
