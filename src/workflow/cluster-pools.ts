/**
 * Pools that hold across every process on one database (docs/cluster.md, Runs): a slot is a pool_holds
 * row, taken under a per-pool lock in the store (count < capacity, then insert) and given back by
 * deleting it. The same surface as Pools (the orchestrator uses either), but admission is asynchronous:
 * `acquire` queues the unit here (it shows `waiting_pool` until its row is in) and a pump takes rows for
 * this process's waiters in FIFO order, handing each admitted one to `onAdmit`. A release anywhere is
 * announced on the notifier and wakes every process's pump; a slow poll is the floor.
 *
 * Capacity is each process's own reading (operator env, built-in defaults, the definitions it has seen),
 * as with Pools; processes configured alike agree.
 */
import type { Notifier } from '../cluster/notifier.ts';
import type { PoolHold, RunClusterStore } from '../store/run-cluster-store.ts';
import { type PoolState, Pools, type PoolUsage } from './pools.ts';

/** Channel of "a slot of pool P was given back" (payload `{ pool }`). */
export const POOL_RELEASED = 'pool_released';
/** How often waiters try again when no release was heard (another node died holding a slot). */
const POOL_POLL_MS = 1_000;

/** What a unit is, as a pool row names it. */
export interface PoolUnitKey {
  run_id: string;
  step: string;
  item_index: number | null;
}

export class ClusterPools<W> extends Pools<W> {
  readonly #store: RunClusterStore;
  readonly #notifier: Notifier;
  readonly #key: (waiter: W) => PoolUnitKey;
  readonly #alive: (waiter: W) => boolean;
  readonly #same: (a: W, b: W) => boolean;
  readonly #onAdmit: (waiter: W) => void;
  readonly #onError: (err: unknown) => void;
  readonly #queues = new Map<string, W[]>();
  /** This process's holders, with the `since` of their rows (a release deletes only its own row). */
  readonly #mine = new Map<string, Array<{ holder: W; since: string }>>();
  readonly #pumping = new Map<string, Promise<void>>();
  readonly #again = new Set<string>();
  /** Cluster-wide holders per pool, as last read, plus this process's own takes since (run views show it). */
  #counts = new Map<string, number>();
  /**
   * Built-in pools (claude, llm, http) limit what one process runs at once (its memory, its sockets), so
   * they stay this process's, in memory; operator and workflow pools name a shared resource and hold
   * across the cluster.
   */
  readonly #local: Set<string>;
  readonly #timer: NodeJS.Timeout;
  readonly #off: () => void;

  constructor(
    builtin: Record<string, number>,
    operator: Record<string, number>,
    shared: { store: RunClusterStore; notifier: Notifier },
    waiters: {
      key: (waiter: W) => PoolUnitKey;
      live: (waiter: W) => boolean;
      same: (a: W, b: W) => boolean;
      onAdmit: (waiter: W) => void;
      onError: (err: unknown) => void;
    },
  ) {
    super(builtin, operator, waiters.live, waiters.same);
    this.#local = new Set(Object.keys(builtin).filter((name) => !Object.hasOwn(operator, name)));
    this.#store = shared.store;
    this.#notifier = shared.notifier;
    this.#key = waiters.key;
    this.#alive = waiters.live;
    this.#same = waiters.same;
    this.#onAdmit = waiters.onAdmit;
    this.#onError = waiters.onError;
    this.#off = this.#notifier.subscribe(POOL_RELEASED, (payload) => {
      const pool = (payload as { pool?: unknown } | null)?.pool;
      if (typeof pool === 'string') this.#pump(pool);
    });
    this.#timer = setInterval(() => this.#poll(), POOL_POLL_MS).unref();
  }

  close(): void {
    clearInterval(this.#timer);
    this.#off();
  }

  override usage(name: string): PoolUsage {
    if (this.#local.has(name)) return super.usage(name);
    return { running: this.#counts.get(name) ?? 0, capacity: this.capacity(name) };
  }

  /** Never admits at once: the unit waits (`waiting_pool`) until its row is taken, then `onAdmit`. */
  override acquire(name: string, waiter: W): boolean {
    if (this.#local.has(name)) return super.acquire(name, waiter);
    const queue = this.#queues.get(name) ?? [];
    this.#queues.set(name, queue);
    queue.push(waiter);
    // After the caller's synchronous move: it marks the unit `waiting_pool`, which is what makes it live.
    queueMicrotask(() => this.#pump(name));
    return false;
  }

  /** Gives the holder's row back (asynchronously), tells every process, and admits the next waiters. */
  override release(name: string, holder: W): W[] {
    if (this.#local.has(name)) return super.release(name, holder);
    this.#counts.set(name, Math.max(0, (this.#counts.get(name) ?? 0) - 1));
    const held = this.#mine.get(name) ?? [];
    const i = held.findIndex((h) => this.#same(h.holder, holder));
    const since = i >= 0 ? held.splice(i, 1)[0]!.since : undefined;
    void this.#store
      .releasePoolHold({ pool: name, ...this.#key(holder), ...(since === undefined ? {} : { since }) })
      .then(() => this.#notifier.publish(POOL_RELEASED, { pool: name }))
      .catch(this.#onError)
      .finally(() => this.#pump(name));
    return [];
  }

  override admit(name: string): W[] {
    if (this.#local.has(name)) return super.admit(name);
    return [];
  }

  /** This process's view (its holders and waiters); clusterStates reads every process's holders. */
  override states(): PoolState<W>[] {
    return super.states().map((p) =>
      this.#local.has(p.name)
        ? p
        : {
            ...p,
            running: this.#counts.get(p.name) ?? 0,
            holders: [...(this.#mine.get(p.name) ?? [])],
            waiting: (this.#queues.get(p.name) ?? []).filter((w) => this.#alive(w)),
          },
    );
  }

  /** Whether the pool holds across the cluster (its holders are store rows), or is this process's. */
  isShared(name: string): boolean {
    return !this.#local.has(name);
  }

  /** Every pool's holders across the cluster, from the store. */
  clusterHolds(): Promise<PoolHold[]> {
    return this.#store.listPoolHolds();
  }

  /** Takes rows for this process's waiters of `name`, first come first served, while the store admits. */
  #pump(name: string): void {
    if (this.#pumping.has(name)) {
      this.#again.add(name);
      return;
    }
    const run = (async () => {
      do {
        this.#again.delete(name);
        const queue = this.#queues.get(name) ?? [];
        while (queue.length > 0) {
          const waiter = queue[0] as W;
          if (!this.#alive(waiter)) {
            queue.shift();
            continue;
          }
          const since = new Date().toISOString();
          const taken = await this.#store.takePoolHold(
            { pool: name, ...this.#key(waiter), since },
            this.capacity(name),
          );
          if (!taken) break;
          queue.shift();
          const held = this.#mine.get(name) ?? [];
          this.#mine.set(name, held);
          held.push({ holder: waiter, since });
          this.#counts.set(name, (this.#counts.get(name) ?? 0) + 1);
          this.#onAdmit(waiter);
        }
      } while (this.#again.has(name));
    })()
      .catch(this.#onError)
      .finally(() => this.#pumping.delete(name));
    this.#pumping.set(name, run);
  }

  #poll(): void {
    for (const [name, queue] of this.#queues) if (queue.length > 0) this.#pump(name);
    void this.#store
      .listPoolHolds()
      .then((holds) => {
        const counts = new Map<string, number>();
        for (const h of holds) counts.set(h.pool, (counts.get(h.pool) ?? 0) + 1);
        this.#counts = counts;
      })
      .catch(() => undefined);
  }
}
