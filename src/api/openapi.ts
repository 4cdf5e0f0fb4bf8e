/**
 * OpenAPI 3.1, generated from the same zod schemas that validate requests, so the document cannot
 * drift from what the server accepts.
 */
import { z } from 'zod';
import { taskRequestSchema } from '../tasks/request.ts';

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
      schemas: { TaskRequest: taskRequest, Error: errorSchema },
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
      '/health': {
        get: { summary: 'Liveness; needs no key.', security: [], responses: { 200: { description: 'ok' } } },
      },
    },
  };
  return cached;
}
