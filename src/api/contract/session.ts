/** The dashboard's login session: an API key traded for an HttpOnly cookie and a CSRF token. */
import { createRoute, z } from '@hono/zod-openapi';
import { errorResponses, jsonBody, jsonResponse } from './common.ts';

export const SessionState = z
  .object({
    auth_required: z.boolean().openapi({ description: 'false when no API keys are configured.' }),
    authenticated: z.boolean(),
    csrf_token: z
      .string()
      .optional()
      .openapi({ description: 'Send as X-CSRF-Token on every state-changing request the cookie authenticates.' }),
    expires_at: z.string().optional(),
  })
  .openapi('SessionState');
export type SessionState = z.infer<typeof SessionState>;

export const Login = z
  .strictObject({
    api_key: z.string({ error: 'must be a string' }).min(1, { error: 'must not be empty' }).max(1000),
  })
  .openapi('Login');

export const getSessionRoute = createRoute({
  method: 'get',
  path: '/v1/session',
  summary: 'Whether a login is needed, and for a live session cookie its CSRF token.',
  security: [],
  responses: { 200: jsonResponse('The session', SessionState), ...errorResponses },
});

export const loginRoute = createRoute({
  method: 'post',
  path: '/v1/session',
  summary:
    'Trade an API key for a session cookie (HttpOnly, SameSite=Strict) and a CSRF token. Same origin only; ' +
    '409 when no keys are configured.',
  security: [],
  request: { body: jsonBody(Login) },
  responses: { 201: jsonResponse('Logged in', SessionState), ...errorResponses },
});

export const logoutRoute = createRoute({
  method: 'delete',
  path: '/v1/session',
  summary: 'End the session on the server (needs X-CSRF-Token when a session cookie is sent).',
  security: [],
  responses: { 200: jsonResponse('Logged out', SessionState), ...errorResponses },
});
