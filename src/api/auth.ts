import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { AppError } from '../errors.ts';

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * Bearer API keys. Keys are compared as SHA-256 digests with timingSafeEqual, so neither the
 * content nor the length of a key leaks through response timing. No keys configured: open (the
 * server then refuses to bind anything but loopback, see config.ts).
 */
export function apiKeyAuth(keys: string[]): MiddlewareHandler {
  const digests = keys.map(digest);
  return async (c, next) => {
    if (digests.length === 0) return next();
    const header = c.req.header('authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (match) {
      const presented = digest(match[1]!);
      let ok = false;
      for (const d of digests) ok = timingSafeEqual(d, presented) || ok;
      if (ok) return next();
    }
    c.header('WWW-Authenticate', 'Bearer');
    throw new AppError('unauthorized', 'a valid API key is required: Authorization: Bearer <key>');
  };
}
