/**
 * A QueueDriver inside one process, for the workflow engine when nothing else is given (SQLite, tests
 * that build a WorkflowService by hand). It keeps the driver's contract (src/cluster/queue-driver.ts):
 * one active and at most one waiting job per key, `startAfter`, `stop` aborting what outlives the grace.
 * Nothing survives the process: on the embedded store the engine sends a job for every active run at
 * start instead. The queue branch's embedded driver can take its place unchanged.
 */
import type { QueueDriver, QueueJob, QueueName, SendOptions, WorkOptions } from '../cluster/queue-driver.ts';

interface Job {
  queue: QueueName;
  id: string;
  key: string | undefined;
  deliveries: number;
}

export class InProcessQueue implements QueueDriver {
  readonly #handlers = new Map<QueueName, { concurrency: number; handler: (job: QueueJob) => Promise<void> }>();
  readonly #ready: Job[] = [];
  /** Keys with a job running, and keys with one waiting (ready or delayed). */
  readonly #activeKeys = new Set<string>();
  readonly #waitingKeys = new Set<string>();
  readonly #running = new Map<Job, AbortController>();
  readonly #delayed = new Set<NodeJS.Timeout>();
  readonly #idle = new Set<() => void>();
  #stopped = false;

  async send(queue: QueueName, id: string, options: SendOptions = {}): Promise<void> {
    if (this.#stopped) return;
    const key = options.key === undefined ? undefined : `${queue}:${options.key}`;
    if (key !== undefined) {
      if (this.#waitingKeys.has(key)) return;
      this.#waitingKeys.add(key);
    }
    const job: Job = { queue, id, key, deliveries: 0 };
    const delay = (options.startAfter ?? 0) - Date.now();
    if (delay <= 0) return this.#enqueue(job);
    const timer = setTimeout(() => {
      this.#delayed.delete(timer);
      this.#enqueue(job);
    }, delay);
    this.#delayed.add(timer);
  }

  async work(queue: QueueName, options: WorkOptions, handler: (job: QueueJob) => Promise<void>): Promise<void> {
    this.#handlers.set(queue, { concurrency: options.concurrency, handler });
    this.#dispatch();
  }

  async stop(graceMs: number): Promise<void> {
    this.#stopped = true;
    for (const timer of this.#delayed) clearTimeout(timer);
    this.#delayed.clear();
    const idle = new Promise<void>((resolve) => {
      if (this.#running.size === 0) resolve();
      else this.#idle.add(resolve);
    });
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    await Promise.race([idle, grace]);
    clearTimeout(timer);
    for (const controller of this.#running.values()) controller.abort(new Error('the queue is stopping'));
    await idle;
  }

  #enqueue(job: Job): void {
    if (this.#stopped) return;
    this.#ready.push(job);
    this.#dispatch();
  }

  #dispatch(): void {
    for (let i = 0; i < this.#ready.length; ) {
      const job = this.#ready[i]!;
      const worker = this.#handlers.get(job.queue);
      const busy = [...this.#running.keys()].filter((j) => j.queue === job.queue).length;
      if (!worker || busy >= worker.concurrency || (job.key !== undefined && this.#activeKeys.has(job.key))) {
        i++;
        continue;
      }
      this.#ready.splice(i, 1);
      if (job.key !== undefined) {
        this.#waitingKeys.delete(job.key);
        this.#activeKeys.add(job.key);
      }
      job.deliveries++;
      const controller = new AbortController();
      this.#running.set(job, controller);
      void Promise.resolve()
        .then(() => worker.handler({ id: job.id, deliveries: job.deliveries, signal: controller.signal }))
        .then(
          () => this.#done(job, false),
          () => this.#done(job, true),
        );
    }
  }

  #done(job: Job, handBack: boolean): void {
    this.#running.delete(job);
    if (job.key !== undefined) this.#activeKeys.delete(job.key);
    // A handler that threw hands its job back, unless another one for the key already waits.
    if (handBack && !this.#stopped && !(job.key !== undefined && this.#waitingKeys.has(job.key))) {
      if (job.key !== undefined) this.#waitingKeys.add(job.key);
      this.#ready.push(job);
    }
    if (this.#running.size === 0) for (const resolve of this.#idle) resolve();
    if (this.#running.size === 0) this.#idle.clear();
    this.#dispatch();
  }
}
