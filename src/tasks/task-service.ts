/**
 * The task operations behind both APIs (the article's /execute and /v1/tasks): submit, read, wait,
 * follow events, cancel, send a follow-up message.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { QueueDriver } from '../cluster/queue-driver.ts';
import type { Config } from '../config.ts';
import { AppError } from '../errors.ts';
import { type Store, type TaskEvent, type TaskRecord, type TaskStatus, TERMINAL } from '../store/store.ts';
import { parseTaskRequest } from './request.ts';
import { announceTerminal, type TaskNotifier } from './task-events.ts';
import type { TaskScheduler } from './task-scheduler.ts';

export interface TaskServiceDeps {
  config: Config;
  store: Store;
  notifier: TaskNotifier;
  scheduler: TaskScheduler;
  /** Where a queued task's job goes (any worker of the cluster takes it). */
  queue: QueueDriver;
  /**
   * Other processes share the Store and the queue (PostgreSQL): tasks running at start may be theirs,
   * and the queued count moves under this process, so it is read from the Store.
   */
  shared: boolean;
  /** Called after a terminal state the service itself wrote is durable (webhooks, metrics). */
  onTerminal?: (task: TaskRecord) => void;
  /** Told of a job that could not be sent (the task stays queued; a worker's reconciler sends it). */
  onError?: (err: unknown, what: string) => void;
}

/** Shared Store: the queued count behind the queue limit is read again when older than this. */
const COUNT_TTL_MS = 1000;

export class TaskService {
  readonly #deps: TaskServiceDeps;
  /** Queued count kept in memory: a COUNT per submission would cost more than the insert. */
  #queued = 0;
  #countedAt = 0;

  constructor(deps: TaskServiceDeps) {
    this.#deps = deps;
    deps.scheduler.onClaimed = () => {
      if (this.#queued > 0) this.#queued--;
    };
  }

  async start(): Promise<void> {
    const { store } = this.#deps;
    // On a shared Store a running task may be another live worker's: the queue's redelivery, not a
    // start, decides that one is orphaned. Embedded, every running task is this process's last life's.
    if (!this.#deps.shared) {
      const now = new Date().toISOString();
      const { interrupted } = await store.recoverInterrupted(now);
      // Their end is news to whoever follows them: a terminal event ends open streams, a webhook tells.
      for (const id of interrupted) {
        const task = await store.getTask(id);
        if (task) await announceTerminal(store, this.#deps.notifier, this.#deps.onTerminal, task);
      }
      // The embedded queue lives in memory: every queued task gets its job again, oldest first.
      for (const id of await store.listQueuedTasks('9999-12-31T23:59:59.999Z', Number.MAX_SAFE_INTEGER)) {
        await this.#send(id);
      }
    }
    this.#queued = await this.#deps.store.countByStatus('queued');
    this.#countedAt = Date.now();
  }

  /** Sends the task's job, keyed by the task: at most one waits per task. */
  async #send(id: string): Promise<void> {
    try {
      await this.#deps.queue.send('task', id, { key: id });
    } catch (err) {
      // The task is durably queued; a worker's reconciler sends its job once the queue is back.
      this.#deps.onError?.(err, `sending the job of task ${id}`);
    }
  }

  async #queuedCount(): Promise<number> {
    if (this.#deps.shared && Date.now() - this.#countedAt > COUNT_TTL_MS) {
      this.#queued = await this.#deps.store.countByStatus('queued');
      this.#countedAt = Date.now();
    }
    return this.#queued;
  }

  async submit(body: unknown, idempotencyKey?: string): Promise<{ task: TaskRecord; created: boolean }> {
    const { config, store } = this.#deps;
    const parsed = parseTaskRequest(body, config);
    if (idempotencyKey !== undefined && !/^[\x21-\x7e]{1,255}$/.test(idempotencyKey)) {
      throw new AppError('validation', 'Idempotency-Key must be 1 to 255 printable ASCII characters', {
        field: 'Idempotency-Key',
      });
    }
    if ((await this.#queuedCount()) >= config.queueLimit) {
      throw new AppError('queue_full', `the queue is full (${config.queueLimit} tasks waiting)`, { retryAfter: 5 });
    }
    const hash = idempotencyKey ? createHash('sha256').update(canonicalJson(body)).digest('hex') : null;
    const result = await store.createTask({
      id: randomUUID(),
      request: parsed.request as unknown as Record<string, unknown>,
      policy: parsed.policy as unknown as Record<string, unknown>,
      retry_safe: parsed.retry_safe,
      idempotency_key: idempotencyKey ?? null,
      idempotency_hash: hash,
      metadata: parsed.metadata,
      webhook_url: parsed.webhook_url,
    });
    if (result.created) {
      this.#queued++;
      await this.#send(result.task.id);
    }
    return result;
  }

  async get(id: string): Promise<TaskRecord> {
    const task = await this.#deps.store.getTask(id);
    if (!task) throw new AppError('not_found', `no task with id ${JSON.stringify(id)}`, { field: 'id' });
    return task;
  }

  list(status: TaskStatus | undefined, limit: number, cursor: string | undefined) {
    const query: Parameters<Store['listTasks']>[0] = { limit };
    if (status) query.status = status;
    if (cursor) query.cursor = cursor;
    return this.#deps.store.listTasks(query);
  }

  /** Resolves with the task once it is terminal, or as it is when `waitMs` runs out. */
  async wait(id: string, waitMs: number, signal?: AbortSignal): Promise<TaskRecord> {
    const task = await this.get(id);
    if (TERMINAL.has(task.status) || waitMs <= 0) return task;
    return new Promise<TaskRecord>((resolve) => {
      const done = (t?: TaskRecord) => {
        clearTimeout(timer);
        off();
        signal?.removeEventListener('abort', onAbort);
        if (t) resolve(t);
        else void this.get(id).then(resolve, () => resolve(task));
      };
      const onAbort = () => done();
      const off = this.#deps.notifier.onTerminal(id, (t) => done(t));
      const timer = setTimeout(() => done(), waitMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      // The task may have ended between the read above and the subscription.
      void this.#deps.store.getTask(id).then((t) => {
        if (t && TERMINAL.has(t.status)) done(t);
      });
    });
  }

  async cancel(id: string): Promise<TaskRecord> {
    const { store, scheduler, notifier } = this.#deps;
    const task = await this.get(id);
    if (TERMINAL.has(task.status)) return task;
    if (!scheduler.cancel(id)) {
      // Queued, or running on another node: the cancel is ours to write. The node running it hears the
      // end announced and stops its run, whose own finish the Store then refuses (already terminal).
      const finished = await store.finishTask(
        id,
        {
          status: 'failed',
          response: null,
          result: { policy: task.policy },
          error: {
            kind: 'cancelled',
            message: task.status === 'running' ? 'task was cancelled' : 'task was cancelled before it started',
            retryable: false,
          },
        },
        new Date().toISOString(),
      );
      if (finished) {
        // The scheduler may have claimed it in the same commit, just before this write: stop that run
        // (the claim already took it off the queued count).
        if (!scheduler.cancel(id)) this.#queued = Math.max(0, this.#queued - 1);
        const saved = await this.get(id);
        await announceTerminal(store, notifier, this.#deps.onTerminal, saved);
        return saved;
      }
    }
    return this.wait(id, 5000);
  }

  async sendMessage(id: string, body: unknown): Promise<TaskRecord> {
    const prompt = (body as { prompt?: unknown } | null)?.prompt;
    if (typeof prompt !== 'string' || prompt.length === 0) {
      throw new AppError('validation', 'prompt must be a non-empty string', { field: 'prompt' });
    }
    const extra = Object.keys(body as object).filter((k) => k !== 'prompt');
    if (extra.length > 0)
      throw new AppError('validation', `unknown field ${JSON.stringify(extra[0])}`, { field: extra[0]! });
    if (Buffer.byteLength(prompt) > this.#deps.config.maxPromptBytes) {
      throw new AppError('payload_too_large', `prompt is larger than ${this.#deps.config.maxPromptBytes} bytes`, {
        field: 'prompt',
      });
    }
    const task = await this.get(id);
    if (!task.agent_session_id) {
      throw new AppError('conflict', 'this task has no Claude Code session to continue yet', { field: 'id' });
    }
    if (!(await this.#deps.store.queueMessage(id, prompt))) {
      throw new AppError('conflict', `task is ${task.status}: wait for it to end before sending a message`, {
        field: 'id',
      });
    }
    this.#queued++;
    await this.#send(id);
    return this.get(id);
  }

  events(id: string, afterSeq: number, limit = 500): Promise<TaskEvent[]> {
    return this.#deps.store.listEvents(id, afterSeq, limit);
  }

  onEvent(id: string, listener: (e: TaskEvent) => void): () => void {
    return this.#deps.notifier.onEvent(id, listener);
  }
}

/** JSON with object keys sorted, so the same request with its keys in another order is the same request. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
