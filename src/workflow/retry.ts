/**
 * When a failed step is tried again, and after how long. The orchestrator owns retries (DESIGN.md), so
 * this is pure arithmetic over the step's policy and the error's fixed `retryable` flag.
 */
import type { WorkerName } from '../domain/workflow-definition.ts';

export interface Backoff {
  /** Delay cap (ms) before the second attempt. */
  initial: number;
  /** Growth of the cap per further attempt. */
  factor: number;
  /** Largest cap (ms). */
  max: number;
}

export interface RetryPolicy {
  /** Attempts in all, the first included: 1 means no retry. */
  max_attempts: number;
  backoff: Backoff;
}

export const DEFAULT_BACKOFF: Readonly<Backoff> = { initial: 1000, factor: 2, max: 60_000 };

/**
 * Attempts per worker when a step sets no `retry.max_attempts`:
 * - claude 1: an agent run is expensive and not idempotent (it may have edited files or posted a
 *   comment), so repeating it must be the author's explicit choice.
 * - llm 3, http 3: transient overloads and network errors are common and a repeat is cheap; only
 *   errors whose kind is retryable are repeated (a 4xx-style `validation` or `quota` never is).
 * - transform 1, approval 1: a transform is deterministic and an approval is a human's answer.
 */
export const DEFAULT_MAX_ATTEMPTS: Readonly<Record<WorkerName, number>> = {
  claude: 1,
  llm: 3,
  http: 3,
  transform: 1,
  approval: 1,
};

/** What a step may say about retries (the `retry` key of a definition); unset fields take defaults. */
export interface RetrySettings {
  max_attempts?: number | undefined;
  backoff?: Partial<Backoff> | undefined;
}

/** The effective policy of a step: its own settings over the worker's defaults. */
export function retryPolicy(worker: WorkerName, settings?: RetrySettings): RetryPolicy {
  return {
    max_attempts: settings?.max_attempts ?? DEFAULT_MAX_ATTEMPTS[worker],
    backoff: {
      initial: settings?.backoff?.initial ?? DEFAULT_BACKOFF.initial,
      factor: settings?.backoff?.factor ?? DEFAULT_BACKOFF.factor,
      max: settings?.backoff?.max ?? DEFAULT_BACKOFF.max,
    },
  };
}

/**
 * Milliseconds to wait after failed attempt `attempt` (1-based) before the next one: "full jitter",
 * a uniform draw in [0, min(max, initial · factor^(attempt-1))), so many runs failing together do not
 * retry together. `random` is injectable for tests.
 *
 * @example backoffDelay({ max_attempts: 3, backoff: { initial: 1000, factor: 2, max: 60000 } }, 2) // 0…1999
 */
export function backoffDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const { initial, factor, max } = policy.backoff;
  const exponent = Math.max(0, attempt - 1);
  const cap = Math.min(max, initial * factor ** exponent);
  // Clamp the draw: a random source returning 1 (or garbage) must not exceed the cap.
  const drawn = random();
  const r = Number.isFinite(drawn) ? Math.min(Math.max(drawn, 0), 1) : 0;
  return Math.min(Math.floor(r * cap), Math.max(0, Math.ceil(cap) - 1));
}

/** Whether to try again after failed attempt `attempt` (1-based): the error is retryable and attempts remain. */
export function shouldRetry(policy: RetryPolicy, attempt: number, error: { retryable: boolean }): boolean {
  return error.retryable && attempt < policy.max_attempts;
}
