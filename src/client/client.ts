/**
 * A typed client for Switchyard's v1 API, used by the CLI and by users.
 *
 * @example
 * ```ts
 * const client = new SwitchyardClient({ baseUrl: 'http://127.0.0.1:7847' });
 * const task = await client.submit({ prompt: 'Summarize README.md', allowed_tools: ['Read'] });
 * const done = await client.wait(task.id);
 * console.log(done.status, done.response);
 * ```
 */
import type { Page, StreamEvent, Task, TaskRequest } from '../api/contract/index.ts';

/** The request, task and event shapes are the API contract's (src/api/contract/), not copies. */
export type { ErrorInfo as TaskError, Session, Task, TaskRequest } from '../api/contract/index.ts';
/** One event of a task's or a run's stream. */
export type TaskStreamEvent = StreamEvent;

export interface StreamOptions {
  /** Resume after this event id (sent as Last-Event-ID). */
  afterId?: number;
  signal?: AbortSignal;
}

export class SwitchyardError extends Error {
  readonly status: number;
  readonly kind: string;
  readonly field: string | undefined;
  constructor(status: number, kind: string, message: string, field?: string) {
    super(message);
    this.name = 'SwitchyardError';
    this.status = status;
    this.kind = kind;
    this.field = field;
  }
}

export interface ClientOptions {
  baseUrl: string;
  apiKey?: string;
}

export const isTerminal = (status: string) => status === 'completed' || status === 'failed';

export class SwitchyardClient {
  readonly #base: string;
  readonly #headers: Record<string, string>;

  constructor(options: ClientOptions) {
    this.#base = options.baseUrl.replace(/\/$/, '');
    this.#headers = options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {};
  }

  async request<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    const init: RequestInit = { method, headers: { ...this.#headers, ...headers } };
    if (body !== undefined) {
      init.body = typeof body === 'string' ? body : JSON.stringify(body);
      (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
    }
    const res = await fetch(`${this.#base}${path}`, init);
    const text = await res.text();
    let parsed: any;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // Not ours: a proxy's HTML error page, say. Report the status rather than a parse error.
      if (!res.ok)
        throw new SwitchyardError(res.status, 'internal', `${res.status} ${res.statusText}: ${text.slice(0, 200)}`);
      throw new SwitchyardError(
        res.status,
        'internal',
        `the server answered ${res.status} with a body that is not JSON`,
      );
    }
    if (!res.ok) {
      const e = parsed?.error ?? {};
      throw new SwitchyardError(res.status, e.kind ?? 'internal', e.message ?? res.statusText, e.field);
    }
    return parsed as T;
  }

  submit(request: TaskRequest, options: { idempotencyKey?: string } = {}): Promise<Task> {
    const headers: Record<string, string> = options.idempotencyKey ? { 'idempotency-key': options.idempotencyKey } : {};
    return this.request('POST', '/v1/tasks', request, headers);
  }

  get(id: string, waitSeconds = 0): Promise<Task> {
    const q = waitSeconds > 0 ? `?wait=${waitSeconds}` : '';
    return this.request('GET', `/v1/tasks/${encodeURIComponent(id)}${q}`);
  }

  list(query: { status?: string; limit?: number; cursor?: string } = {}): Promise<Page<Task>> {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
    return this.request('GET', `/v1/tasks?${params}`);
  }

  cancel(id: string): Promise<Task> {
    return this.request('POST', `/v1/tasks/${encodeURIComponent(id)}/cancel`);
  }

  sendMessage(id: string, prompt: string): Promise<Task> {
    return this.request('POST', `/v1/tasks/${encodeURIComponent(id)}/messages`, { prompt });
  }

  /** Long-polls until the task is terminal (or `timeoutMs` passes, then returns it as it is). */
  async wait(id: string, timeoutMs = Number.POSITIVE_INFINITY): Promise<Task> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const left = Math.ceil((deadline - Date.now()) / 1000);
      const task = await this.get(id, Math.max(1, Math.min(60, left)));
      if (isTerminal(task.status) || Date.now() >= deadline) return task;
    }
  }

  /** Streams a task's events (SSE) until the task ends; resumes after `afterId` if given. */
  events(id: string, options: StreamOptions = {}): AsyncGenerator<TaskStreamEvent> {
    return this.stream(`/v1/tasks/${encodeURIComponent(id)}/events`, options);
  }

  /** Reads an SSE endpoint of this API: one event per frame with an id; keep-alive comments are skipped. */
  protected async *stream(path: string, options: StreamOptions): AsyncGenerator<TaskStreamEvent> {
    const headers: Record<string, string> = { ...this.#headers, accept: 'text/event-stream' };
    if (options.afterId !== undefined) headers['last-event-id'] = String(options.afterId);
    const init: RequestInit = { headers };
    if (options.signal) init.signal = options.signal;
    const res = await fetch(`${this.#base}${path}`, init);
    if (!res.ok || !res.body) {
      const e = (await res.json().catch(() => ({}))) as { error?: { kind?: string; message?: string; field?: string } };
      throw new SwitchyardError(
        res.status,
        e.error?.kind ?? 'internal',
        e.error?.message ?? res.statusText,
        e.error?.field,
      );
    }
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let cut = buffer.indexOf('\n\n');
      while (cut >= 0) {
        const event = parseFrame(buffer.slice(0, cut));
        buffer = buffer.slice(cut + 2);
        cut = buffer.indexOf('\n\n');
        if (event) yield event;
      }
    }
  }
}

function parseFrame(frame: string): TaskStreamEvent | undefined {
  let id: number | undefined;
  let type = 'message';
  const data: string[] = [];
  for (const line of frame.split('\n')) {
    if (line.startsWith('id:')) id = Number(line.slice(3).trim());
    else if (line.startsWith('event:')) type = line.slice(6).trim();
    else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
  }
  if (id === undefined || data.length === 0) return undefined;
  return { id, type, data: JSON.parse(data.join('\n')) };
}
