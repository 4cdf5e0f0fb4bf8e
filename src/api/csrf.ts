/**
 * CSRF defence for requests a browser authenticates with the session cookie. SameSite=Strict already
 * keeps the cookie off cross-site requests; on top of that a state-changing request must carry the
 * session's token in X-CSRF-Token (a header another site's form or fetch cannot set without CORS,
 * which we never grant) and, when the browser names its Origin, come from this server's own host.
 * Bearer-key clients (curl, the CLI, SDKs) carry no ambient credential and are not checked.
 */
import type { Context } from 'hono';
import { AppError } from '../errors.ts';
import { type Session, sameSecret } from './sessions.ts';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Refuses a request whose Origin (or Sec-Fetch-Site) says another site sent it. The host is compared,
 * not the scheme, so a dashboard behind a TLS-terminating proxy still works.
 */
export function requireSameOrigin(c: Context): void {
  const site = c.req.header('sec-fetch-site');
  if (site === 'cross-site' || site === 'same-site') {
    throw new AppError('permission_denied', 'cross-origin request refused', { field: 'Origin' });
  }
  const origin = c.req.header('origin');
  if (origin === undefined) return;
  let host: string | undefined;
  try {
    host = new URL(origin).host;
  } catch {
    host = undefined;
  }
  if (!host || host !== c.req.header('host')) {
    throw new AppError('permission_denied', 'cross-origin request refused', { field: 'Origin' });
  }
}

/** The checks for a cookie-authenticated request: none for reads, origin and token for the rest. */
export function requireCsrf(c: Context, session: Session): void {
  if (SAFE_METHODS.has(c.req.method)) return;
  requireSameOrigin(c);
  const token = c.req.header('x-csrf-token');
  if (!token || !sameSecret(token, session.csrfToken)) {
    throw new AppError(
      'permission_denied',
      'X-CSRF-Token must be the csrf_token of this session (from POST or GET /v1/session)',
      { field: 'X-CSRF-Token' },
    );
  }
}
