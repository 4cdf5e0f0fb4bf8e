/**
 * The embedded QueueDriver: one process, jobs in memory, in the order they were sent (SQLite's FIFO).
 * Nothing survives the process; what was queued is found again in the Store at start (the task
 * service sends a job for every queued task), which is what makes an in-memory queue enough here.
 */
import type { QueueDriver, QueueJob, QueueName, SendOptions, WorkOptions } from './queue-driver.ts';

interface Pending {
  queue: QueueName;
  id: string;
  key: string | undefined;
  deliveries: number;
  /** Epoch ms; 0 = now. */
  startAfter: number;
}

interface Worker {
  queue: QueueName;
  concurrency: number;
  handler: (job: QueueJob) => Promise<void>;
  running: number;
}

/** A job handed back (a handler that threw) waits this long, so a handler that always throws cannot spin. */
const RETRY_DELAY_MS = 1000;

export class EmbeddedQueueDriver implements QueueDriver {
  readonly #pending: Pending[] = [];
  readonly #workers = new Map<QueueName, Worker>();
  /** Keys with a job running now. */
  readonly #activeKeys = new Set<string>();
  readonly #timers = new Set<NodeJS.Timeout>();
  /** Per running job: its abort, for stop(). */
  readonly #running = new Set<{ controller: AbortController; done: Promise<void> }>();
  #stopping = false;

  async send(queue: QueueName, id: string, options: SendOptions = {}): Promise<void> {
    if (this.#stopping) return;
    const key = options.key === undefined ? undefined : `${queue}\0${options.key}`;
    // One waiting job per key: a second send while one waits is dropped.
    if (key !== undefined && this.#pending.some((p) => p.key === key)) return;
    this.#enqueue({ queue, id, key, deliveries: 1, startAfter: options.startAfter ?? 0 });
  }

  async work(queue: QueueName, options: WorkOptions, handler: (job: QueueJob) => Promise<void>): Promise<void> {
    if (this.#workers.has(queue)) throw new Error(`a handler is already working queue ${queue}`);
    this.#workers.set(queue, { queue, concurrency: Math.max(1, options.concurrency), handler, running: 0 });
    this.#dispatch();
  }

  async stop(graceMs: number): Promise<void> {
    this.#stopping = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    const all = () => Promise.all([...this.#running].map((r) => r.done));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all(), new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
    for (const r of this.#running) r.controller.abort('shutdown');
    await all();
  }

  #enqueue(job: Pending): void {
    const wait = job.startAfter - Date.now();
    if (wait > 0) {
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        this.#dispatch();
      }, wait);
      this.#timers.add(timer);
    }
    this.#pending.push(job);
    this.#dispatch();
  }

  #dispatch(): void {
    if (this.#stopping) return;
    const now = Date.now();
    for (let i = 0; i < this.#pending.length; ) {
      const job = this.#pending[i]!;
      const worker = this.#workers.get(job.queue);
      const ready =
        worker !== undefined &&
        worker.running < worker.concurrency &&
        job.startAfter <= now &&
        (job.key === undefined || !this.#activeKeys.has(job.key));
      if (!ready) {
        i++;
        continue;
      }
      this.#pending.splice(i, 1);
      this.#start(worker, job);
    }
  }

  #start(worker: Worker, job: Pending): void {
    worker.running++;
    if (job.key !== undefined) this.#activeKeys.add(job.key);
    const controller = new AbortController();
    const entry = { controller, done: Promise.resolve() };
    entry.done = (async () => {
      let failed = false;
      try {
        await worker.handler({ id: job.id, deliveries: job.deliveries, signal: controller.signal });
      } catch {
        failed = true;
      }
      worker.running--;
      if (job.key !== undefined) this.#activeKeys.delete(job.key);
      this.#running.delete(entry);
      // Handed back (it threw, or stop aborted it): delivered again, as a dead worker's job would be.
      // After stop there is nobody to deliver it to; the Store still says what was left undone.
      // A job of the same key already waiting stands for it (one waiting job per key).
      const waiting = job.key !== undefined && this.#pending.some((p) => p.key === job.key);
      if ((failed || controller.signal.aborted) && !this.#stopping && !waiting) {
        this.#enqueue({ ...job, deliveries: job.deliveries + 1, startAfter: Date.now() + RETRY_DELAY_MS });
      }
      this.#dispatch();
    })();
    this.#running.add(entry);
  }
}
