import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';
import { AppError } from '../errors.ts';
import { requireCsrf } from './csrf.ts';
import { SESSION_COOKIE, type SessionStore } from './sessions.ts';

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * Whether a presented key is one of `keys`. Keys are compared as SHA-256 digests with
 * timingSafeEqual, and every key is compared, so neither the content nor the length of a key, nor
 * which one matched, leaks through response timing.
 */
export function keyChecker(keys: string[]): (presented: string) => boolean {
  const digests = keys.map(digest);
  return (presented) => {
    const d = digest(presented);
    let ok = false;
    for (const k of digests) ok = timingSafeEqual(k, d) || ok;
    return ok;
  };
}

/**
 * Bearer API keys, or a dashboard session cookie (then with the CSRF checks of csrf.ts). No keys
 * configured: open (the server then refuses to bind anything but loopback, see config.ts). A request
 * with an Authorization header is judged by that header alone.
 */
export function apiKeyAuth(keys: string[], sessions?: SessionStore): MiddlewareHandler {
  const matches = keyChecker(keys);
  return async (c, next) => {
    if (keys.length === 0) return next();
    const header = c.req.header('authorization');
    if (header === undefined && sessions) {
      const session = sessions.get(getCookie(c, SESSION_COOKIE));
      if (session) {
        requireCsrf(c, session);
        return next();
      }
    }
    const match = /^Bearer\s+(\S+)$/i.exec(header ?? '');
    if (match && matches(match[1]!)) return next();
    c.header('WWW-Authenticate', 'Bearer');
    throw new AppError('unauthorized', 'a valid API key is required: Authorization: Bearer <key>');
  };
}
