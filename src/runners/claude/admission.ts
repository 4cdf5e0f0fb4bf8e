/**
 * Admission for Claude Code processes. Starting one costs ~1.5 CPU-seconds (measured on 2 cores), and
 * a running one ~250 MiB. So there are two limits, both shared by tasks and workflow claude steps:
 * - slots: Claude Code processes alive at once, sized from free memory (SWITCHYARD_CONCURRENCY);
 * - starts: processes starting at once, about one per core, so a burst queues instead of thrashing.
 */
import { abortReasonError } from '../runner.ts';

/** A FIFO counting semaphore: a waiter is served before anyone who asks later. */
export class Semaphore {
  readonly capacity: number;
  #inUse = 0;
  readonly #waiters: Array<{ grant: () => void }> = [];
  readonly #onFree = new Set<() => void>();

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  get inUse(): number {
    return this.#inUse;
  }

  get waiting(): number {
    return this.#waiters.length;
  }

  /** Takes a unit now if one is free and nobody waits for it; never blocks. */
  tryAcquire(): boolean {
    if (this.#waiters.length > 0 || this.#inUse >= this.capacity) return false;
    this.#inUse++;
    return true;
  }

  /** Waits for a unit, in arrival order. Rejects with the abort's reason if `signal` aborts first. */
  acquire(signal?: AbortSignal): Promise<void> {
    if (this.tryAcquire()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = {
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        const at = this.#waiters.indexOf(waiter);
        if (at >= 0) this.#waiters.splice(at, 1);
        reject(abortReasonError(signal!, 'waiting for a Claude Code slot'));
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /** Returns a unit: to the longest waiter if there is one, else to the pool (and tells listeners). */
  release(): void {
    const next = this.#waiters.shift();
    if (next) {
      next.grant();
      return;
    }
    this.#inUse = Math.max(0, this.#inUse - 1);
    for (const listener of this.#onFree) listener();
  }

  /** Called whenever a unit becomes free with nobody waiting (the task scheduler claims then). */
  onFree(listener: () => void): void {
    this.#onFree.add(listener);
  }
}

export interface Admission {
  slots: Semaphore;
  starts: Semaphore;
}

export function createAdmission(concurrency: number, concurrentStarts: number): Admission {
  return { slots: new Semaphore(concurrency), starts: new Semaphore(Math.max(1, concurrentStarts)) };
}
