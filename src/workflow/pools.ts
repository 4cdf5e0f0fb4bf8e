/**
 * Resource pools: how many steps of a kind may run at once, across every run of every workflow.
 *
 * Scope: a pool is global by name. `local-llm: 1` declared by two workflows (or by two runs of one)
 * is one pool with one slot, because the thing it protects — a GPU, a rate-limited API — is shared.
 * Capacity, in order of precedence:
 *  1. the operator's SWITCHYARD_POOLS entry (`llm=2,http=32,local-llm=1`);
 *  2. for the built-in pools, the server default (claude: SWITCHYARD_CONCURRENCY, llm 4, http 16),
 *     lowered by any definition that declares a smaller value for it;
 *  3. for other pools, the smallest capacity any loaded definition declares: a workflow that says a
 *     resource takes one caller at a time is believed, whoever else says more.
 *
 * Admission is FIFO per pool and exact: a slot is taken when a step starts and given back only when
 * its runner has really stopped (a cancelled step holds its slot until its process is gone).
 * Occupancy lives in memory: with the embedded store one process owns every run, and at start every
 * step the store still shows running belonged to the dead process (recovery retries or fails it).
 */

export const BUILTIN_POOL_DEFAULTS: Readonly<Record<string, number>> = { llm: 4, http: 16 };

export interface PoolUsage {
  running: number;
  capacity: number;
}

/** Where a pool's capacity comes from (the order of precedence above). */
export type PoolSource = 'builtin' | 'operator' | 'workflow';

/** A pool as it is now: who holds its slots (since when) and who waits for one, in queue order. */
export interface PoolState<W> extends PoolUsage {
  name: string;
  source: PoolSource;
  holders: Array<{ holder: W; since: string }>;
  waiting: W[];
}

export class Pools<W> {
  readonly #builtin: Map<string, number>;
  readonly #operator: Map<string, number>;
  readonly #declared = new Map<string, number>();
  readonly #running = new Map<string, number>();
  readonly #waiting = new Map<string, W[]>();
  /** Who holds the slots `#running` counts, so the API can name them. */
  readonly #holders = new Map<string, Array<{ holder: W; since: string }>>();
  readonly #live: (waiter: W) => boolean;
  readonly #same: (a: W, b: W) => boolean;

  /**
   * @param builtin capacities of the built-in pools (claude, llm, http)
   * @param operator SWITCHYARD_POOLS: wins over everything
   * @param live whether a queued waiter still wants its slot (its run may have been cancelled)
   * @param same whether two waiters are the same holder (release names the holder giving its slot back)
   */
  constructor(
    builtin: Record<string, number>,
    operator: Record<string, number>,
    live: (waiter: W) => boolean,
    same: (a: W, b: W) => boolean = (a, b) => a === b,
  ) {
    this.#builtin = new Map(Object.entries(builtin));
    this.#operator = new Map(Object.entries(operator));
    this.#live = live;
    this.#same = same;
  }

  /** Takes note of a definition's `pools`. */
  declare(pools: Readonly<Record<string, number>> | undefined): void {
    for (const [name, capacity] of Object.entries(pools ?? {})) {
      const known = this.#declared.get(name);
      if (known === undefined || capacity < known) this.#declared.set(name, capacity);
    }
  }

  capacity(name: string): number {
    const operator = this.#operator.get(name);
    if (operator !== undefined) return operator;
    const declared = this.#declared.get(name);
    const builtin = this.#builtin.get(name);
    if (builtin !== undefined) return declared === undefined ? builtin : Math.min(builtin, declared);
    // An undeclared pool cannot pass validation; one slot is the safe answer if it ever happens.
    return declared ?? 1;
  }

  usage(name: string): PoolUsage {
    return { running: this.#running.get(name) ?? 0, capacity: this.capacity(name) };
  }

  /** Takes a slot now, or queues the waiter (false) behind those already waiting. */
  acquire(name: string, waiter: W): boolean {
    const queue = this.#queue(name);
    this.#prune(queue);
    if (queue.length === 0 && (this.#running.get(name) ?? 0) < this.capacity(name)) {
      this.#take(name, waiter);
      return true;
    }
    queue.push(waiter);
    return false;
  }

  /** `holder` gives its slot back; returns the waiters that now hold a slot, in the order they queued. */
  release(name: string, holder: W): W[] {
    this.#running.set(name, Math.max(0, (this.#running.get(name) ?? 0) - 1));
    const holders = this.#holders.get(name) ?? [];
    const i = holders.findIndex((h) => this.#same(h.holder, holder));
    if (i >= 0) holders.splice(i, 1);
    return this.admit(name);
  }

  /** Hands free slots to live waiters. */
  admit(name: string): W[] {
    const queue = this.#queue(name);
    const admitted: W[] = [];
    this.#prune(queue);
    while (queue.length > 0 && (this.#running.get(name) ?? 0) < this.capacity(name)) {
      const waiter = queue.shift() as W;
      this.#take(name, waiter);
      admitted.push(waiter);
      this.#prune(queue);
    }
    return admitted;
  }

  /**
   * Every pool known now: the built-in ones, the operator's, those definitions declared, and any
   * with a holder or a waiter. Waiting lists only live waiters, in the order they will be admitted.
   */
  states(): PoolState<W>[] {
    const names = new Set([
      ...this.#builtin.keys(),
      ...this.#operator.keys(),
      ...this.#declared.keys(),
      ...this.#holders.keys(),
      ...this.#waiting.keys(),
    ]);
    return [...names].sort().map((name) => ({
      name,
      source: this.#operator.has(name) ? 'operator' : this.#builtin.has(name) ? 'builtin' : 'workflow',
      ...this.usage(name),
      holders: [...(this.#holders.get(name) ?? [])],
      waiting: (this.#waiting.get(name) ?? []).filter((w) => this.#live(w)),
    }));
  }

  #take(name: string, holder: W): void {
    this.#running.set(name, (this.#running.get(name) ?? 0) + 1);
    let holders = this.#holders.get(name);
    if (!holders) {
      holders = [];
      this.#holders.set(name, holders);
    }
    holders.push({ holder, since: new Date().toISOString() });
  }

  #queue(name: string): W[] {
    let queue = this.#waiting.get(name);
    if (!queue) {
      queue = [];
      this.#waiting.set(name, queue);
    }
    return queue;
  }

  #prune(queue: W[]): void {
    while (queue.length > 0 && !this.#live(queue[0] as W)) queue.shift();
  }
}
