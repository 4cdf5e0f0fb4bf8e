/**
 * The one failure vocabulary (DESIGN.md "Failure vocabulary"), plus the few kinds only the HTTP API
 * raises. Every kind has a fixed HTTP status and a fixed `retryable` flag, kept in one table so the
 * API, the task runner and the workflow engine can never disagree about them.
 */

export const ERROR_KINDS = {
  // Task and step failures.
  validation: { status: 400, retryable: false },
  timeout: { status: 504, retryable: true },
  idle_timeout: { status: 504, retryable: true },
  cancelled: { status: 409, retryable: false },
  interrupted: { status: 503, retryable: true },
  permission_denied: { status: 403, retryable: false },
  max_turns: { status: 422, retryable: false },
  budget: { status: 422, retryable: false },
  model_error: { status: 502, retryable: true },
  overloaded: { status: 503, retryable: true },
  quota: { status: 429, retryable: false },
  startup: { status: 502, retryable: true },
  http_status: { status: 502, retryable: true },
  network: { status: 502, retryable: true },
  output_invalid: { status: 422, retryable: true },
  // The same output would be as large again on a retry.
  output_too_large: { status: 422, retryable: false },
  // Claude Code finished but said nothing (the article's "Empty response"): another attempt may answer.
  empty_response: { status: 502, retryable: true },
  internal: { status: 500, retryable: false },
  // Raised by the API only.
  unauthorized: { status: 401, retryable: false },
  not_found: { status: 404, retryable: false },
  conflict: { status: 409, retryable: false },
  payload_too_large: { status: 413, retryable: false },
  queue_full: { status: 429, retryable: true },
} as const satisfies Record<string, { status: number; retryable: boolean }>;

export type ErrorKind = keyof typeof ERROR_KINDS;

/** The JSON shape of an error everywhere it is stored or returned. */
export interface ErrorInfo {
  kind: ErrorKind;
  message: string;
  retryable: boolean;
  field?: string;
}

export interface AppErrorOptions {
  cause?: unknown;
  /** The request field or config variable at fault, for `validation` errors. */
  field?: string;
  /** Seconds a client should wait before retrying (queue_full). */
  retryAfter?: number;
}

export class AppError extends Error {
  readonly kind: ErrorKind;
  readonly field: string | undefined;
  readonly retryAfter: number | undefined;

  constructor(kind: ErrorKind, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.kind = kind;
    this.field = options.field;
    this.retryAfter = options.retryAfter;
  }

  get status(): number {
    return ERROR_KINDS[this.kind].status;
  }

  get retryable(): boolean {
    return ERROR_KINDS[this.kind].retryable;
  }

  toInfo(): ErrorInfo {
    const info: ErrorInfo = { kind: this.kind, message: this.message, retryable: this.retryable };
    if (this.field !== undefined) info.field = this.field;
    return info;
  }
}

export function isErrorKind(value: unknown): value is ErrorKind {
  return typeof value === 'string' && Object.hasOwn(ERROR_KINDS, value);
}

/** Builds the stored error for a failure, whatever was thrown. Unknown throwables become `internal`. */
export function toErrorInfo(err: unknown): ErrorInfo {
  if (err instanceof AppError) return err.toInfo();
  const message = err instanceof Error ? err.message : String(err);
  return { kind: 'internal', message, retryable: false };
}

export function validationError(field: string, message: string): AppError {
  return new AppError('validation', `${field} ${message}`, { field });
}
