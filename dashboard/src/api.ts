/**
 * The dashboard's only way to the server: same-origin fetches of the public API (/v1/...). With a
 * login session the browser sends the HttpOnly cookie by itself; state-changing requests add the
 * session's CSRF token as a header, which the server checks (src/api/csrf.ts).
 */
import type { SessionInfo } from './api-types.ts';

let csrfToken: string | undefined;
let onUnauthorized: (() => void) | undefined;

export function setSession(session: SessionInfo): void {
  csrfToken = session.csrf_token;
}

/** Called when the server answers 401: the session ended (logout elsewhere, expiry, restart). */
export function whenUnauthorized(handler: () => void): void {
  onUnauthorized = handler;
}

export class ApiError extends Error {
  readonly status: number;
  readonly kind: string;
  /** The request field a validation error names (`timeout`, `steps.build.worker`), when it names one. */
  readonly field: string | undefined;
  constructor(status: number, kind: string, message: string, field?: string) {
    super(message);
    this.status = status;
    this.kind = kind;
    this.field = field;
  }
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  /** A body sent as it is (a workflow's YAML) with its own content type, instead of JSON. */
  text?: { body: string; contentType: string };
}

export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const method = options.method ?? 'GET';
  const headers: Record<string, string> = { accept: 'application/json' };
  let body: string | undefined;
  if (options.text) {
    headers['content-type'] = options.text.contentType;
    body = options.text.body;
  } else if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.body);
  }
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  const res = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    ...(body !== undefined ? { body } : {}),
  });
  const data: unknown = await res.json().catch(() => null);
  if (!res.ok) {
    const error = (data as { error?: { kind?: string; message?: string; field?: string } } | null)?.error;
    if (res.status === 401 && path !== '/v1/session') onUnauthorized?.();
    throw new ApiError(res.status, error?.kind ?? 'http', error?.message ?? `HTTP ${res.status}`, error?.field);
  }
  return data as T;
}

export const post = <T>(path: string, body?: unknown) => api<T>(path, { method: 'POST', body: body ?? {} });

/** Path segments from the server (task and run ids, step names) are encoded, never trusted as paths. */
export const seg = (s: string) => encodeURIComponent(s);
