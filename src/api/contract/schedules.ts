/** The schedules contract: the cron triggers of the registered workflows. */
import { createRoute, z } from '@hono/zod-openapi';
import { errorResponses, jsonResponse, listOf } from './common.ts';

export const Schedule = z
  .object({
    workflow: z.string(),
    trigger: z.string().openapi({ description: "The trigger's name, or its cron expression when it has none." }),
    cron: z.string(),
    timezone: z.string(),
    misfire: z.enum(['skip', 'run_once']),
    overlap: z.enum(['skip', 'allow']),
    paused: z.boolean(),
    next_fire_time: z.string().nullable().openapi({ description: 'ISO 8601; null when the expression fires no more.' }),
    last_fire: z
      .object({
        fire_time: z.string(),
        status: z.enum(['claimed', 'started', 'skipped', 'failed']),
        run_id: z.string().nullable(),
        reason: z.string().nullable(),
        misfire: z.boolean().openapi({ description: 'Started for a fire time missed while no engine ran.' }),
      })
      .nullable(),
  })
  .openapi('Schedule');
export type Schedule = z.infer<typeof Schedule>;

const TriggerParams = z.object({
  workflow: z.string(),
  trigger: z.string().openapi({ description: "The trigger's name, or its cron expression percent-encoded." }),
});

export const listSchedulesRoute = createRoute({
  method: 'get',
  path: '/v1/schedules',
  summary: 'List the schedules (cron triggers) of every registered workflow.',
  responses: { 200: jsonResponse('All schedules', listOf(Schedule)), ...errorResponses },
});

export const pauseScheduleRoute = createRoute({
  method: 'post',
  path: '/v1/schedules/{workflow}/{trigger}/pause',
  summary: 'Pause a schedule: its fires start no runs until it is resumed. Survives restarts.',
  request: { params: TriggerParams },
  responses: { 200: jsonResponse('The schedule', Schedule), ...errorResponses },
});

export const resumeScheduleRoute = createRoute({
  method: 'post',
  path: '/v1/schedules/{workflow}/{trigger}/resume',
  summary: 'Resume a schedule; fire times that passed while it was paused are not made up.',
  request: { params: TriggerParams },
  responses: { 200: jsonResponse('The schedule', Schedule), ...errorResponses },
});
