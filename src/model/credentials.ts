/**
 * Whether the server can reach a model at all. Claude Code never holds the real credentials (the
 * model proxy adds them to each call), so without them every task and claude step would start Claude
 * Code, make a call the upstream refuses, and end in a confusing model error. It is known at start:
 * the server says so once (a warning) and every claude run fails at once with what to set.
 */
import { AppError } from '../errors.ts';

export const MISSING_CREDENTIALS_MESSAGE =
  "no model credentials: set ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN) in the server's environment, " +
  'or run `npm run demo` for the built-in scripted model';

/**
 * Why Claude Code cannot reach a model with `env` (the variables passed through to it), or undefined
 * when it can. A key or a token is enough. A custom ANTHROPIC_BASE_URL without either is taken as a
 * gateway or local model server that needs none (demo mode sets both the URL and a key).
 *
 * @example missingCredentials({ ANTHROPIC_API_KEY: 'sk-ant-…' }) // undefined
 */
export function missingCredentials(env: Record<string, string | undefined>): string | undefined {
  if (env.ANTHROPIC_API_KEY || env.ANTHROPIC_AUTH_TOKEN || env.ANTHROPIC_BASE_URL) return undefined;
  return MISSING_CREDENTIALS_MESSAGE;
}

/** The error a claude run fails with when the server has no credentials: the operator's to fix, never retried. */
export function missingCredentialsError(message: string): AppError {
  return new AppError('validation', message, { field: 'ANTHROPIC_API_KEY' });
}
