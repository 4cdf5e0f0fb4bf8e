/**
 * Dashboard login sessions. A browser cannot keep a Bearer key safely, so it trades one for a random
 * session id held in an HttpOnly cookie, plus a per-session CSRF token it sends back as a header on
 * every state-changing request.
 *
 * Sessions live in this process's memory: a restart logs everyone out, and with several `api`
 * processes behind a balancer a session only works on the process that issued it. Both are fine for
 * one box; a shared store is the step for scale-out.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const SESSION_COOKIE = 'switchyard_session';
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;
/** Bounds memory when someone logs in in a loop: the oldest sessions go first. */
const MAX_SESSIONS = 10_000;

export interface Session {
  csrfToken: string;
  expiresAt: number;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Equal strings, compared without leaking where they differ or how long the secret is. */
export function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

export class SessionStore {
  // Keyed by the id's digest, so a lookup's timing says nothing about stored ids.
  readonly #sessions = new Map<string, Session>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  create(): { id: string; session: Session } {
    this.#sweep();
    while (this.#sessions.size >= MAX_SESSIONS) {
      const oldest = this.#sessions.keys().next().value;
      if (oldest === undefined) break;
      this.#sessions.delete(oldest);
    }
    const id = randomBytes(32).toString('base64url');
    const session = { csrfToken: randomBytes(32).toString('base64url'), expiresAt: this.#now() + SESSION_TTL_MS };
    this.#sessions.set(digest(id).toString('hex'), session);
    return { id, session };
  }

  get(id: string | undefined): Session | undefined {
    if (!id) return undefined;
    const key = digest(id).toString('hex');
    const session = this.#sessions.get(key);
    if (session && session.expiresAt <= this.#now()) {
      this.#sessions.delete(key);
      return undefined;
    }
    return session;
  }

  delete(id: string | undefined): void {
    if (id) this.#sessions.delete(digest(id).toString('hex'));
  }

  #sweep(): void {
    const now = this.#now();
    for (const [key, s] of this.#sessions) if (s.expiresAt <= now) this.#sessions.delete(key);
  }
}
