/**
 * Inbound webhooks. `POST /v1/hooks/{name}` is mounted ahead of the API key check (see createApp's
 * `openRoutes`): a delivery's signature is its authentication, checked over the raw body before anything
 * else (src/triggers/webhook-triggers.ts). Only that exact route is open; `GET /v1/hooks` is behind the key.
 */
import type { OpenAPIHono } from '@hono/zod-openapi';
import { AppError } from '../../errors.ts';
import type { HookOutcome, WebhookTriggers } from '../../triggers/webhook-triggers.ts';
import { bodyLimit } from '../body-limit.ts';
import { deliverHookRoute, listHooksRoute } from '../contract/hooks.ts';
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
export function hookDeliveryRoutes(hooks: WebhookTriggers, maxBodyBytes: number): (app: OpenAPIHono) => void {
  const limit = bodyLimit(
    maxBodyBytes,
    `webhook body is larger than ${maxBodyBytes} bytes (SWITCHYARD_MAX_HOOK_BODY_BYTES)`,
  );
  return (app) => {
    // The body is not the library's to parse: the signature is checked over the raw bytes first.
    app.openapi({ ...deliverHookRoute, middleware: limit }, async (c) => {
      const raw = Buffer.from(await c.req.arrayBuffer());
      const verified = await hooks.verify(c.req.valid('param').name, raw, (name) => c.req.header(name));
      const answer = (o: HookOutcome) => (o.status === 202 ? c.json(o.body, 202) : c.json(o.body, 200));
      const duplicate = await hooks.duplicate(verified);
      if (duplicate) return answer(duplicate);
      checkContentType(c.req.header('content-type'));
      // Hono keeps the bytes read above: this parses the same body, with the depth bound of every request.
      return answer(await hooks.start(verified, await readJson(c)));
    });
  };
}

/** The hooks the registered workflows declare, behind the API key like every other read. */
export function hookListRoutes(hooks: WebhookTriggers): (app: OpenAPIHono) => void {
  return (app) => {
    app.openapi(listHooksRoute, async (c) => c.json({ items: await hooks.list() }, 200));
  };
}
