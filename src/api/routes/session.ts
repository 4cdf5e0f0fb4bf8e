/**
 * Dashboard login: `POST /v1/session {api_key}` trades a valid API key for a session cookie and a
 * CSRF token; `GET /v1/session` says whether a login is needed and, for a live session, its token;
 * `DELETE /v1/session` ends the session on the server. Mounted ahead of the key check: these
 * routes judge the key or the cookie themselves.
 */
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { AppError } from '../../errors.ts';
import { keyChecker } from '../auth.ts';
import { bodyLimit } from '../body-limit.ts';
import { getSessionRoute, Login, loginRoute, logoutRoute } from '../contract/session.ts';
import { requireCsrf, requireSameOrigin } from '../csrf.ts';
import { openapiReadingBody } from '../openapi.ts';
import { readBody } from '../run-view.ts';
import { SESSION_COOKIE, SESSION_TTL_MS, type Session, type SessionStore } from '../sessions.ts';

/** Secure whenever the browser reached us over https, directly or through a proxy that says so. */
function overHttps(c: Context): boolean {
  return new URL(c.req.url).protocol === 'https:' || c.req.header('x-forwarded-proto') === 'https';
}

const sessionView = (session: Session) => ({
  auth_required: true,
  authenticated: true,
  csrf_token: session.csrfToken,
  expires_at: new Date(session.expiresAt).toISOString(),
});

export function sessionRoutes(app: OpenAPIHono, keys: string[], sessions: SessionStore): void {
  const matches = keyChecker(keys);

  app.openapi(getSessionRoute, (c) => {
    if (keys.length === 0) return c.json({ auth_required: false, authenticated: true }, 200);
    const session = sessions.get(getCookie(c, SESSION_COOKIE));
    if (!session) return c.json({ auth_required: true, authenticated: false }, 200);
    return c.json(sessionView(session), 200);
  });

  const limit = bodyLimit(16 * 1024, 'request body is larger than 16384 bytes');
  openapiReadingBody(app, { ...loginRoute, middleware: limit }, async (c) => {
    // A login form posted from another site would sign the victim into the attacker's session.
    requireSameOrigin(c);
    const { api_key } = await readBody(c, Login);
    if (keys.length === 0) {
      throw new AppError('conflict', 'no API keys are configured (SWITCHYARD_API_KEYS): no login is needed');
    }
    if (!matches(api_key)) throw new AppError('unauthorized', 'api_key is not a valid API key', { field: 'api_key' });
    sessions.delete(getCookie(c, SESSION_COOKIE));
    const { id, session } = sessions.create();
    setCookie(c, SESSION_COOKIE, id, {
      httpOnly: true,
      sameSite: 'Strict',
      path: '/',
      secure: overHttps(c),
      maxAge: Math.floor(SESSION_TTL_MS / 1000),
    });
    return c.json(sessionView(session), 201);
  });

  app.openapi(logoutRoute, (c) => {
    const id = getCookie(c, SESSION_COOKIE);
    const session = sessions.get(id);
    if (session) requireCsrf(c, session);
    sessions.delete(id);
    deleteCookie(c, SESSION_COOKIE, { path: '/', httpOnly: true, sameSite: 'Strict', secure: overHttps(c) });
    return c.json({ auth_required: keys.length > 0, authenticated: keys.length === 0 }, 200);
  });
}
