/**
 * In-process notifications for tasks: who is waiting for a task's next event or its end.
 * The Store is the source of truth; this only wakes readers (long-poll, SSE) without polling it.
 */
import { EventEmitter } from 'node:events';
import type { TaskEvent, TaskRecord } from '../store/store.ts';

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
