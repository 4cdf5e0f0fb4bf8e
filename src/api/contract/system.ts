/** Liveness, metrics and the documents that describe the API; none needs a key but /metrics. */
import { createRoute, z } from '@hono/zod-openapi';
import { errorResponses, jsonResponse } from './common.ts';

export const Health = z
  .object({
    status: z.literal('ok'),
    sandbox: z
      .object({
        mode: z.enum(['auto', 'required', 'off']),
        active: z.boolean(),
        reason: z.string().optional().openapi({ description: 'Why the sandbox is not active.' }),
      })
      .nullable()
      .openapi({ description: 'The OS sandbox tasks run in.' }),
  })
  .openapi('Health');
export type Health = z.infer<typeof Health>;

const JsonDocument = z.record(z.string(), z.unknown());

export const healthRoute = createRoute({
  method: 'get',
  path: '/health',
  summary: 'Liveness, and whether tasks run in the OS sandbox; needs no key.',
  security: [],
  responses: { 200: jsonResponse('Up', Health) },
});

export const openApiRoute = createRoute({
  method: 'get',
  path: '/openapi.json',
  summary: 'This document (OpenAPI 3.1); needs no key.',
  security: [],
  responses: { 200: jsonResponse('OpenAPI 3.1', JsonDocument) },
});

export const workflowSchemaRoute = createRoute({
  method: 'get',
  path: '/v1/workflows/schema.json',
  summary: 'The JSON Schema (2020-12) of a workflow file, for editors; needs no key.',
  security: [],
  responses: { 200: jsonResponse('JSON Schema', JsonDocument) },
});

export const docsPageRoute = createRoute({
  method: 'get',
  path: '/docs',
  summary: 'A page that renders this document; needs no key.',
  security: [],
  responses: { 200: { description: 'HTML', content: { 'text/html': { schema: z.string() } } } },
});

export const metricsRoute = createRoute({
  method: 'get',
  path: '/metrics',
  summary: 'Prometheus metrics.',
  responses: {
    200: { description: 'Prometheus text format', content: { 'text/plain': { schema: z.string() } } },
    ...errorResponses,
  },
});
