/**
 * Inbound webhooks. `POST /v1/hooks/{name}` is mounted ahead of the API key check (see createApp's
 * `openRoutes`): a delivery's signature is its authentication, checked over the raw body before anything
 * else (src/triggers/webhook-triggers.ts). Only that exact route is open; `GET /v1/hooks` is behind the key.
 */
import type { Hono } from 'hono';
import { AppError } from '../../errors.ts';
import type { WebhookTriggers } from '../../triggers/webhook-triggers.ts';
import { bodyLimit } from '../body-limit.ts';
import { readJson } from '../json-body.ts';

/** Absent is fine (the body is parsed as JSON regardless); a form body is GitHub's other content type. */
function checkContentType(header: string | undefined): void {
  const type = header?.split(';')[0]?.trim().toLowerCase();
  if (!type || type === 'application/json' || /^application\/[\w.-]+\+json$/.test(type)) return;
  throw new AppError(
    'validation',
    `Content-Type must be application/json, got ${type} (in GitHub's webhook settings, choose application/json)`,
    { field: 'Content-Type' },
  );
}

/** The delivery route, which needs no API key. */
export function hookDeliveryRoutes(hooks: WebhookTriggers, maxBodyBytes: number): (app: Hono) => void {
  return (app) => {
    app.post(
      '/v1/hooks/:name',
      bodyLimit(maxBodyBytes, `webhook body is larger than ${maxBodyBytes} bytes (SWITCHYARD_MAX_HOOK_BODY_BYTES)`),
      async (c) => {
        const raw = Buffer.from(await c.req.arrayBuffer());
        const verified = await hooks.verify(c.req.param('name'), raw, (name) => c.req.header(name));
        const duplicate = await hooks.duplicate(verified);
        if (duplicate) return c.json(duplicate.body, duplicate.status);
        checkContentType(c.req.header('content-type'));
        // Hono keeps the bytes read above: this parses the same body, with the depth bound of every request.
        const outcome = await hooks.start(verified, await readJson(c));
        return c.json(outcome.body, outcome.status);
      },
    );
  };
}

/** The hooks the registered workflows declare, behind the API key like every other read. */
export function hookListRoutes(hooks: WebhookTriggers): (app: Hono) => void {
  return (app) => {
    app.get('/v1/hooks', async (c) => c.json({ items: await hooks.list() }));
  };
}
