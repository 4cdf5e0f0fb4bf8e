/**
 * The PostgreSQL QueueDriver: pg-boss v12 in its own schema of Switchyard's database.
 * - Dispatch by LISTEN/NOTIFY (`useListenNotify` + `notify: true` queues): milliseconds, where polling
 *   alone takes seconds (measured, DESIGN.md). Polling stays on as the floor, every couple of seconds.
 * - Leases are pg-boss job heartbeats: a handler's job is touched every `leaseSeconds / 2`; a job whose
 *   process stopped touching it is failed by pg-boss's monitor and delivered again (retryCount + 1).
 * - Keys are singleton keys on `stately` queues: one active and one waiting job per key.
 * pg-boss's types stay in this file; the rest of Switchyard sees the QueueDriver interface.
 */
import { randomUUID } from 'node:crypto';
import { PgBoss } from 'pg-boss';
import type { QueueDriver, QueueJob, QueueName, SendOptions, WorkOptions } from './queue-driver.ts';

export interface PgBossDriverOptions {
  url: string;
  /** pg-boss's own schema in the database. */
  schema?: string;
  /**
   * Heartbeat timeout: a job not heard of for this long is delivered again. pg-boss's minimum is 10.
   * A dead worker is noticed within about `leaseSeconds + monitorSeconds`.
   */
  leaseSeconds: number;
  /** How often expired heartbeats are looked for (pg-boss's monitor and supervisor). */
  monitorSeconds: number;
  /** Told of pg-boss's errors (a lost connection while PostgreSQL restarts, a failed fetch). */
  onError?: (err: unknown) => void;
}

export const BOSS_SCHEMA = 'switchyard_boss';
const QUEUES: QueueName[] = ['task', 'run'];
/** pg-boss's ceiling on how long a job may stay active (its expireInSeconds); the longest task is 24 h. */
const MAX_ACTIVE_SECONDS = 24 * 60 * 60;
/**
 * Deliveries before pg-boss gives a job up. Each hand-back (a handler that threw, a drained or dead
 * worker) is one; the handler and the Store decide what a repeat means, so this only stops a loop.
 */
const RETRY_LIMIT = 1000;
/** Polling is the floor under NOTIFY, and how soon a handed-back job (retryDelay 1 s) is seen again. */
const POLL_SECONDS = 2;

interface JobData {
  id: string;
}

export class PgBossQueueDriver implements QueueDriver {
  readonly #boss: PgBoss;
  readonly #options: PgBossDriverOptions;
  readonly #running = new Set<Promise<void>>();
  #stopped = false;

  private constructor(boss: PgBoss, options: PgBossDriverOptions) {
    this.#boss = boss;
    this.#options = options;
  }

  /** Connects, installs or migrates pg-boss's schema (safe when several processes start at once), creates the queues. */
  static async open(options: PgBossDriverOptions): Promise<PgBossQueueDriver> {
    if (!Number.isInteger(options.leaseSeconds) || options.leaseSeconds < 10) {
      throw new Error(
        `leaseSeconds must be an integer >= 10 (pg-boss's minimum heartbeat), got ${options.leaseSeconds}`,
      );
    }
    const boss = new PgBoss({
      connectionString: options.url,
      schema: options.schema ?? BOSS_SCHEMA,
      application_name: 'switchyard-queue',
      // Beside the Store's pool (10): fetches, completions and heartbeats are short; LISTEN has its own.
      max: 5,
      useListenNotify: true,
      superviseIntervalSeconds: options.monitorSeconds,
      monitorIntervalSeconds: options.monitorSeconds,
      // Switchyard has its own cron (src/triggers/): pg-boss's scheduler stays off.
      schedule: false,
    });
    // Without a listener an 'error' event would end the process; a restarting PostgreSQL emits several.
    boss.on('error', (err) => options.onError?.(err));
    await boss.start({ attempts: 5 });
    const driver = new PgBossQueueDriver(boss, options);
    try {
      for (const name of QUEUES) await driver.#ensureQueue(name);
    } catch (err) {
      await boss.stop({ graceful: false, close: true }).catch(() => undefined);
      throw err;
    }
    return driver;
  }

  async #ensureQueue(name: QueueName): Promise<void> {
    if (await this.#boss.getQueue(name)) return;
    try {
      await this.#boss.createQueue(name, {
        policy: 'stately',
        notify: true,
        heartbeatSeconds: this.#options.leaseSeconds,
        expireInSeconds: MAX_ACTIVE_SECONDS,
        retryLimit: RETRY_LIMIT,
        retryDelay: 1,
      });
    } catch (err) {
      // Another process created it first.
      if (!(await this.#boss.getQueue(name))) throw err;
    }
  }

  async send(queue: QueueName, id: string, options: SendOptions = {}): Promise<void> {
    const data: JobData = { id };
    await this.#boss.send(queue, data, {
      // A stately queue treats jobs without a key as one key: an unkeyed job gets a key of its own.
      singletonKey: options.key ?? randomUUID(),
      ...(options.startAfter !== undefined ? { startAfter: new Date(options.startAfter) } : {}),
      // Per job too, so a job sent by a process configured differently still carries this lease.
      heartbeatSeconds: this.#options.leaseSeconds,
      expireInSeconds: MAX_ACTIVE_SECONDS,
      retryLimit: RETRY_LIMIT,
      retryDelay: 1,
    });
  }

  async work(queue: QueueName, options: WorkOptions, handler: (job: QueueJob) => Promise<void>): Promise<void> {
    await this.#boss.work<JobData>(
      queue,
      {
        localConcurrency: Math.max(1, options.concurrency),
        batchSize: 1,
        pollingIntervalSeconds: POLL_SECONDS,
        notifyPollingIntervalSeconds: POLL_SECONDS,
      },
      async ([job]) => {
        if (!job) return;
        // pg-boss aborts job.signal on stop, on a lost claim, and also after every ordinary completion:
        // the handler gets a signal of its own that only the first two reach.
        const controller = new AbortController();
        const forward = () => controller.abort(this.#stopped ? 'shutdown' : 'lease-lost');
        job.signal.addEventListener('abort', forward, { once: true });
        const run = handler({ id: job.data.id, deliveries: job.retryCount + 1, signal: controller.signal });
        const tracked = run.then(
          () => undefined,
          () => undefined,
        );
        this.#running.add(tracked);
        try {
          await run;
        } finally {
          job.signal.removeEventListener('abort', forward);
          this.#running.delete(tracked);
        }
        // Aborted handlers may return quietly: their job goes back all the same.
        if (controller.signal.aborted) throw new Error(`job handed back (${String(controller.signal.reason)})`);
      },
    );
  }

  async stop(graceMs: number): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    // graceful: no new fetches, running handlers get `graceMs`; then pg-boss fails (hands back) their
    // jobs and aborts their signals. close: the pool goes with it.
    await this.#boss.stop({ graceful: true, close: false, timeout: Math.max(1, graceMs) });
    // pg-boss's stop may return before an aborted handler has unwound; the Store may still be in use.
    await Promise.all([...this.#running]);
    await this.#boss.stop({ graceful: false, close: true }).catch(() => undefined);
  }
}
