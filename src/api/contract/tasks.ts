/**
 * The task API's contract: the article's POST /execute and GET /sessions/{id}, and /v1/tasks. The
 * request schema here is the one the server validates submissions with (src/tasks/request.ts).
 */
import { createRoute, z } from '@hono/zod-openapi';
import {
  cursorQuery,
  ErrorInfo,
  enumQuery,
  errorResponses,
  IdempotencyHeaders,
  IdParams,
  jsonBody,
  jsonResponse,
  limitQuery,
  numberQuery,
  orNull,
  pageOf,
} from './common.ts';

export const TASK_STATUSES = ['queued', 'running', 'awaiting_approval', 'completed', 'failed'] as const;
export const TaskStatus = z.enum(TASK_STATUSES);
export type TaskStatus = z.infer<typeof TaskStatus>;

const intBetween = (min: number, max: number, unit: string) => {
  const message = `must be an integer between ${min} and ${max}${unit}`;
  return z.number({ error: message }).int({ error: message }).min(min, { error: message }).max(max, { error: message });
};

/**
 * Strict: an unknown field is a 400, so a client that misspells `allowedTools` never silently runs
 * under another boundary. `maxTimeout` is the server's SWITCHYARD_MAX_TIMEOUT.
 */
export function taskRequestSchema(maxTimeout: number) {
  return z.strictObject(
    {
      prompt: z.string({ error: 'must be a non-empty string' }).min(1, { error: 'must be a non-empty string' }),
      allowed_tools: z.array(z.string(), { error: 'must be an array of tool rules' }).max(100).optional(),
      timeout: intBetween(1000, maxTimeout, ' (ms)').optional(),
      idle_timeout: intBetween(1000, maxTimeout, ' (ms)').optional(),
      cwd: z.string({ error: 'must be a path' }).min(1).max(4096).optional(),
      model: z
        .string()
        .regex(/^[\w.:@/-]{1,200}$/, { error: 'must be a model name (letters, digits, . : @ / - _)' })
        .optional(),
      max_turns: intBetween(1, 1000, '').optional(),
      max_budget_usd: z
        .number({ error: 'must be a number of dollars' })
        .positive({ error: 'must be greater than 0' })
        .max(10_000)
        .optional(),
      system_prompt_append: z.string().max(100_000).optional(),
      output_schema: z.record(z.string(), z.unknown(), { error: 'must be a JSON Schema object' }).optional(),
      metadata: z.record(z.string(), z.unknown(), { error: 'must be an object' }).optional(),
      retry_safe: z.boolean({ error: 'must be true or false' }).optional(),
      webhook_url: z
        .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
        .max(2048)
        .optional(),
    },
    { error: 'must be a JSON object' },
  );
}

/** The documented limit is the default SWITCHYARD_MAX_TIMEOUT (24 h); a server may set another. */
export const TaskRequest = taskRequestSchema(86_400_000).openapi('TaskRequest');
export type TaskRequest = z.input<typeof TaskRequest>;

export const Task = z
  .object({
    id: z.string(),
    status: TaskStatus,
    response: z.string().nullable(),
    result: z.record(z.string(), z.unknown()).nullable(),
    error: orNull(ErrorInfo),
    request: z.record(z.string(), z.unknown()).openapi({ description: 'The request as accepted, defaults applied.' }),
    metadata: z.record(z.string(), z.unknown()).nullable(),
    attempts: z.number(),
    retry_safe: z.boolean(),
    created_at: z.string(),
    started_at: z.string().nullable(),
    finished_at: z.string().nullable(),
  })
  .openapi('Task');
export type Task = z.infer<typeof Task>;

/** The article's session shape. */
export const Session = z
  .object({
    session_id: z.string(),
    status: TaskStatus,
    response: z.string().nullable(),
    result: z.record(z.string(), z.unknown()).nullable(),
    error: orNull(ErrorInfo),
  })
  .openapi('Session');
export type Session = z.infer<typeof Session>;

export const TaskPage = pageOf(Task).openapi('TaskPage');

export const TaskMessage = z.strictObject({ prompt: z.string().min(1) }).openapi('TaskMessage');
export type TaskMessage = z.infer<typeof TaskMessage>;

/** One stored event of a task or run stream, as the clients yield it (SSE: `id`, `event`, `data`). */
export interface StreamEvent {
  id: number;
  type: string;
  data: unknown;
}

/** SSE: each frame is `id: <seq>`, `event: <type>`, `data: <JSON>`. */
export const sseResponse = (description: string) => ({
  description,
  content: { 'text/event-stream': { schema: z.string().openapi({ description: 'id, event and JSON data lines' }) } },
});

/** Resume a stream after an event id; `?after=` serves clients that cannot set headers. */
export const ResumeHeaders = z.object({
  'last-event-id': z.string().optional().openapi({ description: 'Resume after this event id.' }),
});
export const ResumeQuery = z.object({
  after: z.string().optional().openapi({ description: 'Resume after this event id (for EventSource).' }),
});

export const executeRoute = createRoute({
  method: 'post',
  path: '/execute',
  summary: "Submit a task (the article's API). Answers {session_id, status}. Honours Idempotency-Key.",
  request: { headers: IdempotencyHeaders, body: jsonBody(TaskRequest) },
  responses: {
    200: jsonResponse('Accepted', z.object({ session_id: z.string(), status: TaskStatus })),
    ...errorResponses,
  },
});

export const sessionRoute = createRoute({
  method: 'get',
  path: '/sessions/{id}',
  summary: 'Poll a task the way the article does.',
  request: { params: IdParams },
  responses: { 200: jsonResponse('The session', Session), ...errorResponses },
});

export const submitTaskRoute = createRoute({
  method: 'post',
  path: '/v1/tasks',
  summary: 'Submit a task. Honours Idempotency-Key.',
  request: { headers: IdempotencyHeaders, body: jsonBody(TaskRequest) },
  responses: {
    201: jsonResponse('Created', Task),
    200: jsonResponse('The existing task for the Idempotency-Key', Task),
    ...errorResponses,
  },
});

export const listTasksRoute = createRoute({
  method: 'get',
  path: '/v1/tasks',
  summary: 'List tasks, newest first, with cursor pagination.',
  request: { query: z.object({ status: enumQuery(TASK_STATUSES), limit: limitQuery, cursor: cursorQuery }) },
  responses: { 200: jsonResponse('A page', TaskPage), ...errorResponses },
});

/** `wait` long-polls: the answer comes when the subject is terminal or the seconds run out. */
export const WaitQuery = z.object({
  wait: numberQuery(0, 300).openapi({ description: 'Seconds to wait for a terminal status (long-poll).' }),
});

export const getTaskRoute = createRoute({
  method: 'get',
  path: '/v1/tasks/{id}',
  summary: 'Read a task; ?wait=SECONDS long-polls until it is terminal.',
  request: { params: IdParams, query: WaitQuery },
  responses: { 200: jsonResponse('The task', Task), ...errorResponses },
});

export const cancelTaskRoute = createRoute({
  method: 'post',
  path: '/v1/tasks/{id}/cancel',
  summary: 'Cancel a queued or running task.',
  request: { params: IdParams },
  responses: { 200: jsonResponse('The task', Task), ...errorResponses },
});

export const taskMessageRoute = createRoute({
  method: 'post',
  path: '/v1/tasks/{id}/messages',
  summary: 'Send a follow-up prompt: resumes the same Claude Code session under the same boundary.',
  request: { params: IdParams, body: jsonBody(TaskMessage) },
  responses: { 202: jsonResponse('Queued', Task), ...errorResponses },
});

export const taskEventsRoute = createRoute({
  method: 'get',
  path: '/v1/tasks/{id}/events',
  summary: 'Server-sent events of every agent message; resumable with Last-Event-ID; ends with the task.',
  request: { params: IdParams, headers: ResumeHeaders, query: ResumeQuery },
  responses: { 200: sseResponse('text/event-stream'), ...errorResponses },
});
