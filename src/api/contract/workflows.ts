/**
 * The workflow API's contract: definitions, runs (with their steps) and the dead-letter queue. The
 * JSON bodies here are the ones the routes validate with (src/api/run-view.ts readBody).
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
  listOf,
  orNull,
  pageOf,
  Usage,
} from './common.ts';
import { ResumeHeaders, ResumeQuery, sseResponse, WaitQuery } from './tasks.ts';

export const RUN_STATUSES = ['queued', 'running', 'awaiting_approval', 'completed', 'failed'] as const;
export const RunStatus = z.enum(RUN_STATUSES);
export type RunStatus = z.infer<typeof RunStatus>;

export const STEP_STATUSES = [
  'pending',
  'queued',
  'waiting_pool',
  'running',
  'awaiting_approval',
  'retry_wait',
  'completed',
  'failed',
  'skipped',
] as const;
export const StepStatus = z.enum(STEP_STATUSES);
export type StepStatus = z.infer<typeof StepStatus>;

export const DLQ_STATUSES = ['open', 'retried', 'discarded'] as const;

/** An input's JSON Schema, as the definition gives it. */
export const InputSchema = z
  .looseObject({
    type: z.union([z.string(), z.array(z.string())]).optional(),
    description: z.string().optional(),
    default: z.unknown().optional(),
    enum: z.array(z.unknown()).optional(),
  })
  .openapi({ description: 'A JSON Schema (2020-12); an input without `default` is required.' });

/** A step as stored: the fields every worker shares; the rest are the worker's (see the Workflow schema). */
export const DefinitionStep = z.looseObject({
  worker: z.enum(['claude', 'llm', 'http', 'transform', 'approval']),
  description: z.string().optional(),
  depends_on: z.array(z.string()).optional(),
  for_each: z.string().optional(),
  pool: z.string().optional(),
});
export type DefinitionStep = z.infer<typeof DefinitionStep>;

export const DefinitionTrigger = z.union([
  z.looseObject({
    cron: z.string(),
    name: z.string().optional(),
    timezone: z.string().optional(),
    misfire: z.enum(['skip', 'run_once']).optional(),
    overlap: z.enum(['skip', 'allow']).optional(),
  }),
  z.looseObject({
    webhook: z.looseObject({
      name: z.string(),
      provider: z.enum(['github', 'standard']),
      events: z.array(z.string()).optional(),
      when: z.string().optional(),
    }),
  }),
]);
export type DefinitionTrigger = z.infer<typeof DefinitionTrigger>;

/** The definition as stored: its full schema is the Workflow component (GET /v1/workflows/schema.json). */
export const Definition = z
  .looseObject({
    name: z.string(),
    description: z.string().optional(),
    inputs: z.record(z.string(), InputSchema).optional(),
    pools: z.record(z.string(), z.number()).optional(),
    steps: z.record(z.string(), DefinitionStep),
    triggers: z.array(DefinitionTrigger).optional(),
  })
  .openapi({ description: 'The parsed definition; see the Workflow schema.' });
export type Definition = z.infer<typeof Definition>;

export const WorkflowSummary = z
  .object({
    name: z.string(),
    version: z.number(),
    source: z.string().openapi({ description: '"api", or the file path in SWITCHYARD_WORKFLOWS_DIR.' }),
    updated_at: z.string(),
    definition: Definition,
  })
  .openapi('WorkflowSummary');
export type WorkflowSummary = z.infer<typeof WorkflowSummary>;

export const StepAttemptError = ErrorInfo.extend({ attempt: z.number(), at: z.string() }).openapi('StepAttemptError');
export type StepAttemptError = z.infer<typeof StepAttemptError>;

const StepOutput = z.object({
  response: z.string(),
  data: z.unknown().optional(),
  usage: Usage.optional(),
  detail: z.record(z.string(), z.unknown()).optional(),
});

const stepState = {
  status: StepStatus,
  attempts: z.number(),
  started_at: z.string().nullable(),
  finished_at: z.string().nullable(),
  output: StepOutput.nullable().openapi({ description: 'The output envelope: response, data, usage, detail.' }),
  error: orNull(ErrorInfo),
  errors: z.array(StepAttemptError).openapi({ description: "Every failed attempt's error, oldest first." }),
  pool: z.string().nullable(),
  next_attempt_at: z.string().nullable(),
  usage: orNull(Usage),
  input: z.record(z.string(), z.unknown()).nullable().openapi({
    description:
      "The last attempt's rendered input (prompt, url, headers, body …) as the DLQ keeps it: secrets hidden, credentials [redacted]. Null before the first attempt.",
  }),
};

export const StepView = z
  .object({
    name: z.string(),
    worker: z.string(),
    ...stepState,
    pool_usage: z
      .object({ running: z.number(), capacity: z.number() })
      .nullable()
      .openapi({ description: 'While waiting for a pool: how busy it is.' }),
    items: z
      .array(z.object({ index: z.number(), ...stepState }))
      .optional()
      .openapi({ description: 'for_each steps: one entry per item, in item order.' }),
  })
  .openapi('Step');
export type StepView = z.infer<typeof StepView>;

export const RunTrigger = z
  .object({
    kind: z.enum(['cron', 'webhook']),
    name: z.string(),
    fire_time: z.string().optional(),
    delivery: z.string().optional(),
    event: z.string().nullable().optional(),
  })
  .openapi('RunTrigger', { description: 'What started a run when no client did: a schedule or a webhook.' });
export type RunTrigger = z.infer<typeof RunTrigger>;

export const Run = z
  .object({
    run_id: z.string(),
    id: z.string(),
    workflow: z.string(),
    workflow_version: z.number(),
    status: RunStatus,
    inputs: z.record(z.string(), z.unknown()),
    created_at: z.string(),
    started_at: z.string().nullable(),
    finished_at: z.string().nullable(),
    error: orNull(ErrorInfo),
    usage: Usage,
    steps: z.array(StepView),
    trigger: orNull(RunTrigger),
  })
  .openapi('Run');
export type Run = z.infer<typeof Run>;

export const DlqEntry = z
  .object({
    id: z.string(),
    run_id: z.string(),
    workflow: z.string(),
    step: z.string(),
    item_index: z.number().nullable(),
    status: z.enum(DLQ_STATUSES),
    inputs: z.record(z.string(), z.unknown()).openapi({ description: "The last attempt's rendered inputs." }),
    errors: z.array(StepAttemptError),
    context: z.record(z.string(), z.unknown()).openapi({ description: 'Run inputs and upstream outputs then.' }),
    created_at: z.string(),
    resolved_at: z.string().nullable(),
  })
  .openapi('DlqEntry');
export type DlqEntry = z.infer<typeof DlqEntry>;

/** A free-text comment on a decision, and the optional step of a rerun. */
export const CommentBody = z
  .strictObject({
    comment: z
      .string({ error: 'must be a string' })
      .max(10_000, { error: 'must be at most 10000 characters' })
      .optional(),
  })
  .openapi('Decision');

export const RerunBody = z
  .strictObject({
    step: z.string({ error: 'must be a step name' }).min(1, { error: 'must be a step name' }).max(64).optional(),
  })
  .openapi('Rerun');

export const StartRunBody = z
  .strictObject({
    inputs: z.record(z.string(), z.unknown(), { error: 'must be an object of input name → value' }).optional(),
  })
  .openapi('StartRun');

const NameParams = z.object({ name: z.string() });
const run = (description: string) => jsonResponse(description, Run);

export const DEFINITION_TYPES = [
  'application/yaml',
  'application/x-yaml',
  'text/yaml',
  'text/x-yaml',
  'application/json',
  'text/plain',
] as const;

export const registerWorkflowRoute = createRoute({
  method: 'post',
  path: '/v1/workflows',
  summary: 'Register or update a workflow. Invalid definitions are a 400 naming file, line, step and field.',
  request: {
    query: z.object({ filename: z.string().optional().openapi({ description: 'Shown in error messages.' }) }),
    body: {
      required: true,
      description: 'The definition text, YAML or JSON.',
      content: Object.fromEntries(
        DEFINITION_TYPES.map((t) => [t, { schema: { $ref: '#/components/schemas/Workflow' } }]),
      ),
    },
  },
  responses: {
    201: jsonResponse('Registered (version 1)', WorkflowSummary),
    200: jsonResponse('Updated, or unchanged', WorkflowSummary),
    ...errorResponses,
  },
});

export const listWorkflowsRoute = createRoute({
  method: 'get',
  path: '/v1/workflows',
  summary: 'List workflows.',
  responses: { 200: jsonResponse('All workflows', listOf(WorkflowSummary)), ...errorResponses },
});

export const getWorkflowRoute = createRoute({
  method: 'get',
  path: '/v1/workflows/{name}',
  summary: 'Read a workflow.',
  request: { params: NameParams },
  responses: { 200: jsonResponse('The workflow', WorkflowSummary), ...errorResponses },
});

export const startRunRoute = createRoute({
  method: 'post',
  path: '/v1/workflows/{name}/runs',
  summary: "Start a run. Inputs are checked against the workflow's input schemas. Honours Idempotency-Key.",
  request: { params: NameParams, headers: IdempotencyHeaders, body: jsonBody(StartRunBody, false) },
  responses: { 201: run('Started'), 200: run('The existing run for the Idempotency-Key'), ...errorResponses },
});

export const listRunsRoute = createRoute({
  method: 'get',
  path: '/v1/runs',
  summary: 'List runs, newest first, with cursor pagination.',
  request: {
    query: z.object({
      workflow: z.string().optional().openapi({ description: 'Only runs of this workflow.' }),
      status: enumQuery(RUN_STATUSES),
      limit: limitQuery,
      cursor: cursorQuery,
    }),
  },
  responses: { 200: jsonResponse('A page', pageOf(Run)), ...errorResponses },
});

export const getRunRoute = createRoute({
  method: 'get',
  path: '/v1/runs/{id}',
  summary: 'Read a run; ?wait=SECONDS long-polls until it is terminal.',
  request: { params: IdParams, query: WaitQuery },
  responses: { 200: run('The run'), ...errorResponses },
});

export const runEventsRoute = createRoute({
  method: 'get',
  path: '/v1/runs/{id}/events',
  summary: 'Server-sent events (run, step, agent …); resumable with Last-Event-ID; ends with the run.',
  request: { params: IdParams, headers: ResumeHeaders, query: ResumeQuery },
  responses: { 200: sseResponse('text/event-stream'), ...errorResponses },
});

export const cancelRunRoute = createRoute({
  method: 'post',
  path: '/v1/runs/{id}/cancel',
  summary: 'Cancel a run and its running steps.',
  request: { params: IdParams },
  responses: { 200: run('The run'), ...errorResponses },
});

export const rerunRoute = createRoute({
  method: 'post',
  path: '/v1/runs/{id}/rerun',
  summary: 'Run a failed run again from `step` (default: its first failed step), keeping completed upstream outputs.',
  request: { params: IdParams, body: jsonBody(RerunBody, false) },
  responses: { 200: run('The run'), ...errorResponses },
});

const StepParams = z.object({ id: z.string(), step: z.string() });

export const approveRoute = createRoute({
  method: 'post',
  path: '/v1/runs/{id}/steps/{step}/approve',
  summary: 'Approve an approval step that is awaiting a decision.',
  request: { params: StepParams, body: jsonBody(CommentBody, false) },
  responses: { 200: run('The run'), ...errorResponses },
});

export const rejectRoute = createRoute({
  method: 'post',
  path: '/v1/runs/{id}/steps/{step}/reject',
  summary: 'Reject an approval step; the step fails.',
  request: { params: StepParams, body: jsonBody(CommentBody, false) },
  responses: { 200: run('The run'), ...errorResponses },
});

export const listDlqRoute = createRoute({
  method: 'get',
  path: '/v1/dlq',
  summary: 'List dead-lettered steps, newest first.',
  request: { query: z.object({ status: enumQuery(DLQ_STATUSES), limit: limitQuery, cursor: cursorQuery }) },
  responses: { 200: jsonResponse('A page', pageOf(DlqEntry)), ...errorResponses },
});

export const getDlqRoute = createRoute({
  method: 'get',
  path: '/v1/dlq/{id}',
  summary: 'Read a DLQ entry.',
  request: { params: IdParams },
  responses: { 200: jsonResponse('The entry', DlqEntry), ...errorResponses },
});

export const retryDlqRoute = createRoute({
  method: 'post',
  path: '/v1/dlq/{id}/retry',
  summary: 'Redrive: the run resumes from that step with fresh attempts.',
  request: { params: IdParams },
  responses: { 200: run('The run'), ...errorResponses },
});

export const discardDlqRoute = createRoute({
  method: 'post',
  path: '/v1/dlq/{id}/discard',
  summary: 'Discard the entry; the run stays failed.',
  request: { params: IdParams },
  responses: { 200: jsonResponse('The entry', DlqEntry), ...errorResponses },
});
