import type { Usage } from '../domain/usage.ts';
import { AppError, type AppErrorOptions, type ErrorKind } from '../errors.ts';

/**
 * What every runner returns. `response` is always a string: it is the key every worker shares, so
 * any step can feed any other. `data` holds structured output when the step asked for it.
 */
export interface OutputEnvelope {
  response: string;
  data?: unknown;
  usage?: Usage;
  /** Runner-specific detail (turns, status code, headers, files changed …), stored and shown as is. */
  detail?: Record<string, unknown>;
}

/**
 * A runner's failure after it already did work: it carries the envelope so far (usage spent, detail),
 * so the tokens and cost of a failed attempt are still counted. Runners fail by throwing an AppError;
 * this one when there is something to count.
 */
export class RunnerError extends AppError {
  readonly envelope: OutputEnvelope;

  constructor(kind: ErrorKind, message: string, envelope: OutputEnvelope, options: AppErrorOptions = {}) {
    super(kind, message, options);
    this.name = 'RunnerError';
    this.envelope = envelope;
  }

  /** `error` with the envelope attached (its kind, message and field kept, itself as the cause). */
  static carrying(error: AppError, envelope: OutputEnvelope): RunnerError {
    if (error instanceof RunnerError) return error;
    return new RunnerError(error.kind, error.message, envelope, {
      cause: error,
      ...(error.field === undefined ? {} : { field: error.field }),
    });
  }
}

/** Something a runner reports while it works (an agent message, a log line). */
export interface RunnerEvent {
  type: string;
  data: unknown;
}

export interface RunContext {
  /** Aborted on cancel and on the wall-clock timeout; runners must stop promptly and clean up. */
  signal: AbortSignal;
  emit(event: RunnerEvent): void;
}

/**
 * Why a runner was stopped, from its signal's abort reason: an AppError says so itself, a
 * TimeoutError (AbortSignal.timeout) is the step's wall-clock timeout, anything else is a cancel.
 */
export function abortReasonError(signal: AbortSignal, what: string): AppError {
  const reason: unknown = signal.reason;
  if (reason instanceof AppError) return reason;
  if (reason instanceof Error && reason.name === 'TimeoutError') {
    return new AppError('timeout', `${what} stopped: the step timed out`, { cause: reason });
  }
  return new AppError('cancelled', `${what} was cancelled`, { cause: reason });
}
