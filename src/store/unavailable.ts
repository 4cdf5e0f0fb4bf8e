/**
 * Whether an error means "the database cannot be reached right now" (PostgreSQL restarting, a
 * connection the restart broke, a pool that cannot connect), as opposed to a bug. The API answers
 * those 503 with Retry-After instead of a bare 500, and nothing was accepted. Only src/store/ knows
 * which errors a dialect raises for it.
 */

/** Node's socket errors when the server is gone or refuses. */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOENT', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH']);
/**
 * PostgreSQL SQLSTATEs of a server shutting down or starting up (class 57P: operator intervention;
 * 08: connection exceptions).
 */
const PG_STATES = /^(57P0[1-3]|08\d\d\d)$/;
/** node-postgres's own messages for a connection lost mid-query or a pool that timed out connecting. */
const PG_MESSAGES = /Connection terminated|connection timeout|Client has encountered a connection error/i;

export function isStoreUnavailable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (SOCKET_CODES.has(code) || PG_STATES.test(code))) return true;
    if (PG_MESSAGES.test(e.message)) return true;
    // AggregateError: a connect that tried several addresses.
    if (e instanceof AggregateError && e.errors.some(isStoreUnavailable)) return true;
  }
  return false;
}
