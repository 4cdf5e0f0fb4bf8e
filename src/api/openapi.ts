/**
 * OpenAPI 3.1, generated from the same zod schemas that validate requests, so the document cannot
 * drift from what the server accepts.
 */
import { z } from 'zod';
import { taskRequestSchema } from '../tasks/request.ts';
import { workflowJsonSchema } from '../workflow/definition.ts';

const errorSchema = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: { kind: { type: 'string' }, message: { type: 'string' }, field: { type: 'string' } },
      required: ['kind', 'message'],
    },
  },
};

const json = (schema: unknown) => ({ content: { 'application/json': { schema } } });
const errors = { '4XX': { description: 'Bad request, auth, not found, queue full', ...json(errorSchema) } };
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };

const nameParam = { name: 'name', in: 'path', required: true, schema: { type: 'string' } };
const query = (name: string, schema: Record<string, unknown>, description?: string) => ({
  name,
  in: 'query',
  schema,
  ...(description ? { description } : {}),
});
const page = { type: 'object', properties: { items: { type: 'array' }, next_cursor: {} } };
const comment = json({ type: 'object', properties: { comment: { type: 'string' } }, additionalProperties: false });

type Ok = (description: string, schema?: unknown) => Record<string, unknown>;

/** Workflows, runs and the dead-letter queue (src/api/routes/{workflows,runs,dlq}.ts). */
function workflowPaths(ok: Ok): Record<string, unknown> {
  const workflow = {
    type: 'object',
    description: 'A registered workflow: name, version, source, updated_at, definition.',
  };
  const run = {
    type: 'object',
    description:
      'A run: run_id, workflow, status, inputs, steps (status, attempts, output, errors), usage, error, ' +
      'trigger (what started it when no client did: {kind: cron, name, fire_time}; else null).',
  };
  const dlq = { type: 'object', description: 'A dead-lettered step: its inputs, every attempt error, the context.' };
  const definitionBody = {
    required: true,
    description: 'The definition text, YAML or JSON (?filename= names it in error messages).',
    content: Object.fromEntries(
      ['application/yaml', 'text/yaml', 'application/json', 'text/plain'].map((t) => [
        t,
        { schema: { $ref: '#/components/schemas/Workflow' } },
      ]),
    ),
  };
  const cursor = query('cursor', { type: 'string' });
  const limit = query('limit', { type: 'integer', minimum: 1, maximum: 200 });
  return {
    '/v1/workflows': {
      post: {
        summary: 'Register or update a workflow. Invalid definitions are a 400 naming file, line, step and field.',
        parameters: [query('filename', { type: 'string' }, 'Shown in error messages.')],
        requestBody: definitionBody,
        responses: { 201: { description: 'Registered (version 1)', ...json(workflow) }, ...ok('Updated', workflow) },
      },
      get: {
        summary: 'List workflows.',
        responses: ok('All workflows', { type: 'object', properties: { items: { type: 'array' } } }),
      },
    },
    '/v1/workflows/schema.json': {
      get: {
        summary: 'The JSON Schema (2020-12) of a workflow file, for editors.',
        responses: ok('JSON Schema', { type: 'object' }),
      },
    },
    '/v1/workflows/{name}': {
      get: { summary: 'Read a workflow.', parameters: [nameParam], responses: ok('The workflow', workflow) },
    },
    '/v1/workflows/{name}/runs': {
      post: {
        summary: "Start a run. Inputs are checked against the workflow's input schemas. Honours Idempotency-Key.",
        parameters: [nameParam, { name: 'Idempotency-Key', in: 'header', schema: { type: 'string' } }],
        requestBody: json({ type: 'object', properties: { inputs: { type: 'object' } }, additionalProperties: false }),
        responses: { 201: { description: 'Started', ...json(run) }, ...ok('Existing run for the key', run) },
      },
    },
    '/v1/runs': {
      get: {
        summary: 'List runs, newest first, with cursor pagination.',
        parameters: [
          query('workflow', { type: 'string' }),
          query('status', { type: 'string', enum: ['queued', 'running', 'awaiting_approval', 'completed', 'failed'] }),
          limit,
          cursor,
        ],
        responses: ok('A page', page),
      },
    },
    '/v1/runs/{id}': {
      get: {
        summary: 'Read a run; ?wait=SECONDS long-polls until it is terminal.',
        parameters: [idParam, query('wait', { type: 'number', minimum: 0, maximum: 300 })],
        responses: ok('The run', run),
      },
    },
    '/v1/runs/{id}/events': {
      get: {
        summary: 'Server-sent events (run, step, agent …); resumable with Last-Event-ID; ends with the run.',
        parameters: [idParam],
        responses: { 200: { description: 'text/event-stream' }, ...errors },
      },
    },
    '/v1/runs/{id}/cancel': {
      post: { summary: 'Cancel a run and its running steps.', parameters: [idParam], responses: ok('The run', run) },
    },
    '/v1/runs/{id}/rerun': {
      post: {
        summary:
          'Run a failed run again from `step` (default: its first failed step), keeping completed upstream outputs.',
        parameters: [idParam],
        requestBody: json({ type: 'object', properties: { step: { type: 'string' } }, additionalProperties: false }),
        responses: ok('The run', run),
      },
    },
    '/v1/runs/{id}/steps/{step}/approve': {
      post: {
        summary: 'Approve an approval step that is awaiting a decision.',
        parameters: [idParam, { name: 'step', in: 'path', required: true, schema: { type: 'string' } }],
        requestBody: comment,
        responses: ok('The run', run),
      },
    },
    '/v1/runs/{id}/steps/{step}/reject': {
      post: {
        summary: 'Reject an approval step; the step fails.',
        parameters: [idParam, { name: 'step', in: 'path', required: true, schema: { type: 'string' } }],
        requestBody: comment,
        responses: ok('The run', run),
      },
    },
    '/v1/dlq': {
      get: {
        summary: 'List dead-lettered steps, newest first.',
        parameters: [query('status', { type: 'string', enum: ['open', 'retried', 'discarded'] }), limit, cursor],
        responses: ok('A page', page),
      },
    },
    '/v1/dlq/{id}': { get: { summary: 'Read a DLQ entry.', parameters: [idParam], responses: ok('The entry', dlq) } },
    '/v1/dlq/{id}/retry': {
      post: {
        summary: 'Redrive: the run resumes from that step with fresh attempts.',
        parameters: [idParam],
        responses: ok('The run', run),
      },
    },
    '/v1/dlq/{id}/discard': {
      post: {
        summary: 'Discard the entry; the run stays failed.',
        parameters: [idParam],
        responses: ok('The entry', dlq),
      },
    },
  };
}

/** Schedules: the cron triggers of the registered workflows (src/api/routes/schedules.ts). */
function schedulePaths(ok: Ok): Record<string, unknown> {
  const schedule = {
    type: 'object',
    description:
      'A schedule: workflow, trigger (its name, or its cron expression), cron, timezone, misfire, overlap, paused, ' +
      'next_fire_time (ISO 8601), last_fire {fire_time, status (started|skipped|failed|claimed), run_id, reason, misfire}.',
  };
  const params = [
    { name: 'workflow', in: 'path', required: true, schema: { type: 'string' } },
    {
      name: 'trigger',
      in: 'path',
      required: true,
      schema: { type: 'string' },
      description: "The trigger's name, or its cron expression percent-encoded when it has none.",
    },
  ];
  return {
    '/v1/schedules': {
      get: {
        summary: 'List the schedules (cron triggers) of every registered workflow.',
        responses: ok('All schedules', { type: 'object', properties: { items: { type: 'array', items: schedule } } }),
      },
    },
    '/v1/schedules/{workflow}/{trigger}/pause': {
      post: {
        summary: 'Pause a schedule: its fires start no runs until it is resumed. Survives restarts.',
        parameters: params,
        responses: ok('The schedule', schedule),
      },
    },
    '/v1/schedules/{workflow}/{trigger}/resume': {
      post: {
        summary: 'Resume a schedule; fire times that passed while it was paused are not made up.',
        parameters: params,
        responses: ok('The schedule', schedule),
      },
    },
  };
}

/** Inbound webhooks (src/api/routes/hooks.ts): the delivery route needs no key, its signature is its auth. */
function hookPaths(ok: Ok): Record<string, unknown> {
  const header = (name: string, description: string) => ({
    name,
    in: 'header',
    schema: { type: 'string' },
    description,
  });
  const outcome = {
    type: 'object',
    properties: {
      started: { type: 'boolean' },
      run_id: { type: 'string' },
      workflow: { type: 'string' },
      event: { type: ['string', 'null'] },
      delivery: { type: 'string' },
      duplicate: { type: 'boolean' },
      reason: { type: 'string', description: 'Why no run started: a ping, an event outside the filter, a repeat.' },
    },
  };
  return {
    '/v1/hooks': {
      get: {
        summary: 'List the hooks registered workflows declare: name, workflow, provider, events (never the secret).',
        responses: ok('All hooks', { type: 'object', properties: { items: { type: 'array' } } }),
      },
    },
    '/v1/hooks/{name}': {
      post: {
        summary:
          'Deliver a webhook: starts a run of the workflow whose trigger has this hook name, with inputs rendered from the body. ' +
          'Needs no API key: GitHub (X-Hub-Signature-256) or Standard Webhooks signatures are checked over the raw body; ' +
          'a repeated delivery id answers 200 with the original run.',
        security: [],
        parameters: [
          nameParam,
          header('X-Hub-Signature-256', 'GitHub: sha256=<hex HMAC-SHA256 of the body>'),
          header('X-GitHub-Event', "GitHub: the event; the body's action is appended (pull_request.opened)"),
          header('X-GitHub-Delivery', 'GitHub: the delivery id (dedupe key)'),
          header('webhook-id', 'Standard Webhooks: the message id (dedupe key)'),
          header('webhook-timestamp', 'Standard Webhooks: seconds since the epoch, within five minutes'),
          header('webhook-signature', 'Standard Webhooks: v1,<base64 signature>'),
        ],
        requestBody: { required: true, ...json({ type: 'object' }) },
        responses: {
          202: { description: 'A run started', ...json(outcome) },
          ...ok('No run started: ping, filtered event, or a repeated delivery (with its run_id)', outcome),
          401: { description: 'Bad or missing signature', ...json(errorSchema) },
          413: { description: 'Body larger than SWITCHYARD_MAX_HOOK_BODY_BYTES', ...json(errorSchema) },
        },
      },
    },
  };
}

let cached: Record<string, unknown> | undefined;

export function openApiDocument(): Record<string, unknown> {
  if (cached) return cached;
  const taskRequest = z.toJSONSchema(taskRequestSchema(86_400_000), { io: 'input' });
  const task = { type: 'object', description: 'A task: id, status, response, result, error, request, timestamps.' };
  const ok = (description: string, schema: unknown = task) => ({ 200: { description, ...json(schema) }, ...errors });
  cached = {
    openapi: '3.1.0',
    info: { title: 'Switchyard', version: '0.1.0', description: 'Claude Code as an HTTP worker.' },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: { TaskRequest: taskRequest, Workflow: workflowJsonSchema(), Error: errorSchema },
    },
    security: [{ bearer: [] }],
    paths: {
      '/execute': {
        post: {
          summary: "Submit a task (the article's API). Answers {session_id, status}.",
          requestBody: { required: true, ...json({ $ref: '#/components/schemas/TaskRequest' }) },
          responses: ok('Accepted', { type: 'object', properties: { session_id: {}, status: {} } }),
        },
      },
      '/sessions/{id}': {
        get: {
          summary: 'Poll a task: {session_id, status, response, result, error}.',
          parameters: [idParam],
          responses: ok('The session'),
        },
      },
      '/v1/tasks': {
        post: {
          summary: 'Submit a task. Honours Idempotency-Key.',
          parameters: [{ name: 'Idempotency-Key', in: 'header', schema: { type: 'string' } }],
          requestBody: { required: true, ...json({ $ref: '#/components/schemas/TaskRequest' }) },
          responses: { 201: { description: 'Created', ...json(task) }, ...ok('Existing task for the key') },
        },
        get: {
          summary: 'List tasks, newest first, with cursor pagination.',
          parameters: [
            { name: 'status', in: 'query', schema: { type: 'string' } },
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200 } },
            { name: 'cursor', in: 'query', schema: { type: 'string' } },
          ],
          responses: ok('A page', { type: 'object', properties: { items: { type: 'array' }, next_cursor: {} } }),
        },
      },
      '/v1/tasks/{id}': {
        get: {
          summary: 'Read a task; ?wait=SECONDS long-polls until it is terminal.',
          parameters: [idParam, { name: 'wait', in: 'query', schema: { type: 'number', minimum: 0, maximum: 300 } }],
          responses: ok('The task'),
        },
      },
      '/v1/tasks/{id}/events': {
        get: {
          summary: 'Server-sent events of every agent message; resumable with Last-Event-ID.',
          parameters: [idParam],
          responses: { 200: { description: 'text/event-stream' }, ...errors },
        },
      },
      '/v1/tasks/{id}/cancel': {
        post: { summary: 'Cancel a queued or running task.', parameters: [idParam], responses: ok('The task') },
      },
      '/v1/tasks/{id}/messages': {
        post: {
          summary: 'Send a follow-up prompt: resumes the same Claude Code session under the same boundary.',
          parameters: [idParam],
          requestBody: json({ type: 'object', properties: { prompt: { type: 'string' } }, required: ['prompt'] }),
          responses: { 202: { description: 'Queued', ...json(task) }, ...errors },
        },
      },
      ...workflowPaths(ok),
      ...hookPaths(ok),
      ...schedulePaths(ok),
      '/health': {
        get: { summary: 'Liveness; needs no key.', security: [], responses: { 200: { description: 'ok' } } },
      },
    },
  };
  return cached;
}
