/**
 * The queue driver: moves work to workers, nothing more. The Store holds every fact about a task or a
 * run; the driver only says "this id, to one worker, now (or after T)". Embedded (SQLite, one process)
 * it is an in-process queue; on PostgreSQL it is pg-boss (docs/cluster.md).
 *
 * Contract (test/contract/queue-driver.test.ts runs it on both drivers):
 * - A sent job reaches exactly one live handler. While the handler's promise is pending the job is
 *   that process's: the driver heartbeats it.
 * - A job whose process dies (no heartbeat for the lease timeout) is delivered again, to another worker,
 *   with `deliveries` one higher. The handler decides what a second delivery means (the store's state
 *   and the attempt number say whether the work ran, and fence the stale holder out).
 * - `key`: at most one job per key is active at a time, and at most one more waits behind it (later sends
 *   with the same key while one waits are dropped). A run's jobs are keyed by the run id, so one worker
 *   drives a run at a time, cluster-wide.
 * - `stop(graceMs)` takes no new jobs, lets running handlers finish for `graceMs`, then aborts their
 *   signals; an aborted handler's job is handed back (delivered again elsewhere), not lost.
 */

/** `task`: a task to run. `run`: a workflow run to drive (adopt, step, park). */
export type QueueName = 'task' | 'run';

export interface SendOptions {
  /** One active and one waiting job per key (see the contract above). */
  key?: string;
  /** Not delivered before this time (epoch ms). */
  startAfter?: number;
}

export interface QueueJob {
  /** The task or run id the job names. */
  id: string;
  /** 1 on the first delivery; more after a worker holding it died or handed it back. */
  deliveries: number;
  /** Aborted when the process stops (drain's grace is over) or the lease is lost. */
  signal: AbortSignal;
}

export interface WorkOptions {
  /** How many handlers may run at once in this process. */
  concurrency: number;
}

export interface QueueDriver {
  send(queue: QueueName, id: string, options?: SendOptions): Promise<void>;
  /** Starts handing jobs of `queue` to `handler`; a handler that throws hands its job back. */
  work(queue: QueueName, options: WorkOptions, handler: (job: QueueJob) => Promise<void>): Promise<void>;
  stop(graceMs: number): Promise<void>;
}
