/**
 * In-process notifications for tasks: who is waiting for a task's next event or its end.
 * The Store is the source of truth; this only wakes readers (long-poll, SSE) without polling it.
 */
import { EventEmitter } from 'node:events';
import type { Store, TaskEvent, TaskRecord } from '../store/store.ts';

export class TaskNotifier {
  readonly #emitter = new EventEmitter();

  constructor() {
    // Every long-poll and SSE stream subscribes; there is no meaningful listener cap.
    this.#emitter.setMaxListeners(0);
  }

  publishEvents(events: TaskEvent[]): void {
    for (const e of events) this.#emitter.emit(`event:${e.task_id}`, e);
  }

  publishTerminal(task: TaskRecord): void {
    this.#emitter.emit(`terminal:${task.id}`, task);
  }

  onEvent(taskId: string, listener: (e: TaskEvent) => void): () => void {
    this.#emitter.on(`event:${taskId}`, listener);
    return () => this.#emitter.off(`event:${taskId}`, listener);
  }

  onTerminal(taskId: string, listener: (task: TaskRecord) => void): () => void {
    this.#emitter.on(`terminal:${taskId}`, listener);
    return () => this.#emitter.off(`terminal:${taskId}`, listener);
  }
}

/**
 * Tells everyone that a task ended, once its terminal state is durable: a `status` event in its log
 * (which ends SSE streams), long-polls, and `onTerminal` (webhooks, metrics). Every path that ends
 * a task — a run finishing, a cancel before the run, recovery after a crash — goes through here.
 */
export async function announceTerminal(
  store: Store,
  notifier: TaskNotifier,
  onTerminal: ((task: TaskRecord) => void) | undefined,
  task: TaskRecord,
): Promise<void> {
  const events = await store.appendEvents([
    {
      task_id: task.id,
      type: 'status',
      data: { status: task.status, error: task.error },
      created_at: task.finished_at ?? new Date().toISOString(),
    },
  ]);
  notifier.publishEvents(events);
  notifier.publishTerminal(task);
  onTerminal?.(task);
}
