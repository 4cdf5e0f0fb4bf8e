/** The inbound webhooks contract: the hooks workflows declare, and the delivery route. */
import { createRoute, z } from '@hono/zod-openapi';
import { ErrorEnvelope, errorResponses, jsonResponse, listOf } from './common.ts';

export const Hook = z
  .object({
    name: z.string(),
    workflow: z.string(),
    provider: z.enum(['github', 'standard']),
    events: z.array(z.string()).nullable().openapi({ description: 'null: every event starts a run.' }),
    path: z.string(),
  })
  .openapi('Hook', { description: 'A hook as registered; never its secret, nor the name of the secret.' });
export type Hook = z.infer<typeof Hook>;

export const HookStarted = z
  .object({
    started: z.literal(true),
    run_id: z.string(),
    workflow: z.string(),
    hook: z.string(),
    delivery: z.string(),
    event: z.string().nullable(),
  })
  .openapi('HookStarted');

export const HookNotStarted = z
  .object({
    started: z.literal(false),
    reason: z.string().openapi({ description: 'A ping, an event outside the filter, a false `when`, a repeat.' }),
    run_id: z.string().optional().openapi({ description: 'A repeated delivery: the run it started.' }),
    duplicate: z.literal(true).optional(),
    hook: z.string(),
    delivery: z.string(),
  })
  .openapi('HookNotStarted');

const header = (description: string) => z.string().optional().openapi({ description });

export const listHooksRoute = createRoute({
  method: 'get',
  path: '/v1/hooks',
  summary: 'List the hooks registered workflows declare: name, workflow, provider, events (never the secret).',
  responses: { 200: jsonResponse('All hooks', listOf(Hook)), ...errorResponses },
});

export const deliverHookRoute = createRoute({
  method: 'post',
  path: '/v1/hooks/{name}',
  summary:
    'Deliver a webhook: starts a run of the workflow whose trigger has this hook name, with inputs rendered from the body. ' +
    'Needs no API key: GitHub (X-Hub-Signature-256) or Standard Webhooks signatures are checked over the raw body; ' +
    'a repeated delivery id answers 200 with the original run.',
  security: [],
  request: {
    params: z.object({ name: z.string() }),
    headers: z.object({
      'x-hub-signature-256': header('GitHub: sha256=<hex HMAC-SHA256 of the body>'),
      'x-github-event': header("GitHub: the event; the body's action is appended (pull_request.opened)"),
      'x-github-delivery': header('GitHub: the delivery id (dedupe key)'),
      'webhook-id': header('Standard Webhooks: the message id (dedupe key)'),
      'webhook-timestamp': header('Standard Webhooks: seconds since the epoch, within five minutes'),
      'webhook-signature': header('Standard Webhooks: v1,<base64 signature>'),
    }),
    body: {
      required: true,
      description: "The provider's JSON payload, checked against its signature before it is parsed.",
      content: { 'application/json': { schema: { type: 'object' } } },
    },
  },
  responses: {
    202: jsonResponse('A run started', HookStarted),
    200: jsonResponse('No run started: ping, filtered event, or a repeated delivery (with its run_id)', HookNotStarted),
    401: jsonResponse('Bad or missing signature', ErrorEnvelope),
    413: jsonResponse('Body larger than SWITCHYARD_MAX_HOOK_BODY_BYTES', ErrorEnvelope),
    ...errorResponses,
  },
});
