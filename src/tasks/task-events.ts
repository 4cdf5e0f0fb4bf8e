/**
 * Notifications for tasks: who is waiting for a task's next event or its end, on this node or another.
 * The Store is the source of truth; this only wakes readers (long-poll, SSE) without polling it.
 * Given the cluster notifier, a task running on another process wakes readers here too: the writer
 * announces `{id, first, last}` / `{id, end}` after its commit, and this node reads the store for the
 * tasks it has listeners for (src/cluster/notifier-relay.ts). Without it (one process), events go
 * from the writer to the listeners in memory, as before.
 */
import type { Notifier } from '../cluster/notifier.ts';
import { EventRelay } from '../cluster/notifier-relay.ts';
import { type Store, type TaskEvent, type TaskRecord, TERMINAL } from '../store/store.ts';

export interface TaskNotifierCluster {
  notifier: Notifier;
  /** Where another node's writes are read from. */
  store: Store;
  onError?: (err: unknown) => void;
}

export class TaskNotifier {
  readonly #relay: EventRelay<TaskEvent, TaskRecord>;

  constructor(cluster?: TaskNotifierCluster) {
    const store = cluster?.store;
    this.#relay = new EventRelay<TaskEvent, TaskRecord>(
      {
        channel: 'tasks',
        idOf: (e) => e.task_id,
        readEvents: (id, after, limit) => store!.listEvents(id, after, limit),
        readEnd: async (id) => {
          const task = await store!.getTask(id);
          return task && TERMINAL.has(task.status) ? task : undefined;
        },
      },
      cluster?.notifier,
      cluster?.onError,
    );
  }

  /** Call once `events` are stored. */
  publishEvents(events: TaskEvent[]): void {
    this.#relay.published(events);
  }

  /** Call once the task's terminal state is stored. */
  publishTerminal(task: TaskRecord): void {
    this.#relay.ended(task.id, task);
  }

  onEvent(taskId: string, listener: (e: TaskEvent) => void): () => void {
    return this.#relay.onEvent(taskId, listener);
  }

  onTerminal(taskId: string, listener: (task: TaskRecord) => void): () => void {
    return this.#relay.onEnd(taskId, listener);
  }

  /** Stops hearing other nodes (the server is closing). */
  close(): void {
    this.#relay.close();
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
