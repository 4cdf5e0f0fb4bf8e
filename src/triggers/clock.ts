/**
 * The clock seam: what time it is, and "call me at T". Schedules read time only through this, so tests
 * drive them with a ManualClock (advance by hand, await what the fires did) and never sleep.
 */

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `fn` once, at or after `at` (epoch ms); a time already past fires soon. */
  setTimer(at: number, fn: () => void | Promise<void>): TimerHandle;
}

/** setTimeout caps delays at 2^31-1 ms (~24.8 days); longer waits are chained. */
const MAX_DELAY = 2 ** 31 - 1;

/** Wall-clock time and Node timers; timers do not keep the process alive. */
export const realClock: Clock = {
  now: () => Date.now(),
  setTimer(at, fn) {
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      const delay = at - Date.now();
      // A timer may come back a millisecond early by Date.now()'s reckoning: wait out the rest.
      if (delay > 0) {
        timer = setTimeout(arm, Math.min(delay, MAX_DELAY));
        timer.unref();
        return;
      }
      void fn();
    };
    timer = setTimeout(arm, 0);
    timer.unref();
    return { cancel: () => clearTimeout(timer) };
  },
};

interface ManualTimer {
  at: number;
  seq: number;
  fn: () => void | Promise<void>;
}

/**
 * A clock that moves only when told. `advance`/`set` run every timer that falls due, in time order, with
 * `now()` equal to each timer's time while it runs, and await what each callback returns, so a test that
 * awaits `advance` sees everything those fires did.
 *
 * @example
 * const clock = new ManualClock(Date.parse('2026-03-01T00:00:00Z'));
 * await clock.set(Date.parse('2026-03-01T09:00:00Z')); // fires the 09:00 schedule
 */
export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  readonly #timers = new Set<ManualTimer>();

  constructor(start: number) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimer(at: number, fn: () => void | Promise<void>): TimerHandle {
    const timer = { at, seq: this.#seq++, fn };
    this.#timers.add(timer);
    return { cancel: () => this.#timers.delete(timer) };
  }

  /** Timers waiting, for assertions. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Moves time forward by `ms`, firing what falls due. */
  advance(ms: number): Promise<void> {
    return this.set(this.#now + ms);
  }

  /** Moves time to `at` (never backwards), firing what falls due on the way. */
  async set(at: number): Promise<void> {
    for (;;) {
      let next: ManualTimer | undefined;
      for (const t of this.#timers) {
        if (t.at <= at && (!next || t.at < next.at || (t.at === next.at && t.seq < next.seq))) next = t;
      }
      if (!next) break;
      this.#timers.delete(next);
      this.#now = Math.max(this.#now, next.at);
      await next.fn();
    }
    this.#now = Math.max(this.#now, at);
  }
}
