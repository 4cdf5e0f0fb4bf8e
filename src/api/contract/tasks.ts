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
  Usage,
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

/** Where a task's time went before the agent ran (src/runners/claude/run-claude.ts). */
export const TaskAdmission = z
  .looseObject({
    warm: z.boolean().openapi({ description: 'A pre-started Claude Code process took the task.' }),
    start_wait_ms: z.number().openapi({ description: 'Waiting for a start slot.' }),
    startup_ms: z.number().openapi({ description: 'Claude Code starting, until its first message.' }),
  })
  .openapi('TaskAdmission');
export type TaskAdmission = z.infer<typeof TaskAdmission>;

export const SandboxStatus = z
  .looseObject({
    mode: z.enum(['auto', 'required', 'off']),
    active: z.boolean(),
    reason: z.string().optional().openapi({ description: 'Why the sandbox is not active (absent when it is).' }),
  })
  .openapi('SandboxStatus');
export type SandboxStatus = z.infer<typeof SandboxStatus>;

/** The effective policy: the compiled tool rules, the tools offered, and the sandbox they ran in. */
export const TaskPolicy = z
  .looseObject({
    rules: z.array(z.looseObject({ tool: z.string(), scope: z.string().optional() })).optional(),
    tools: z.array(z.string()).optional(),
    sandbox: orNull(SandboxStatus).optional(),
  })
  .openapi('TaskPolicy');
export type TaskPolicy = z.infer<typeof TaskPolicy>;

export const PermissionDenial = z
  .looseObject({ tool_name: z.string(), tool_use_id: z.string(), tool_input: z.unknown().optional() })
  .openapi('PermissionDenial');
export type PermissionDenial = z.infer<typeof PermissionDenial>;

/**
 * What a finished task reports (src/tasks/task-scheduler.ts, src/runners/claude/classify-result.ts).
 * Every field may be absent: a task that failed before Claude Code answered has only its policy. Loose:
 * fields added later still validate.
 */
export const TaskResult = z
  .looseObject({
    response: z.string().optional(),
    structured_output: z.unknown().optional(),
    usage: orNull(Usage).optional().openapi({ description: "The model proxy's metered figures when it saw the task." }),
    agent_session_id: z.string().optional(),
    num_turns: z.number().optional(),
    duration_ms: z.number().optional(),
    duration_api_ms: z.number().optional(),
    total_cost_usd: z.number().optional(),
    model_calls: z.number().optional(),
    sdk_usage: Usage.optional().openapi({ description: "Claude Code's own count, beside the proxy's." }),
    model_usage: z.record(z.string(), z.unknown()).optional(),
    permission_denials: z.array(PermissionDenial).optional(),
    files_changed: z.array(z.string()).optional(),
    stop_reason: z.string().nullable().optional(),
    terminal_reason: z.string().nullable().optional(),
    admission: TaskAdmission.optional(),
    policy: TaskPolicy.optional(),
  })
  .openapi('TaskResult');
export type TaskResult = z.infer<typeof TaskResult>;

/** The request as accepted: defaults applied, tool rules normalised, the workspace resolved. */
export const AcceptedRequest = z
  .looseObject({
    prompt: z.string(),
    allowed_tools: z.array(z.string()),
    timeout: z.number(),
    idle_timeout: z.number(),
    cwd: z.string(),
    model: z.string().optional(),
    max_turns: z.number().optional(),
    max_budget_usd: z.number().optional(),
    system_prompt_append: z.string().optional(),
    output_schema: z.record(z.string(), z.unknown()).optional(),
  })
  .openapi('AcceptedRequest');
export type AcceptedRequest = z.infer<typeof AcceptedRequest>;

export const Task = z
  .object({
    id: z.string(),
    status: TaskStatus,
    response: z.string().nullable(),
    result: orNull(TaskResult),
    error: orNull(ErrorInfo),
    request: AcceptedRequest,
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
    result: orNull(TaskResult),
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
