/**
 * The engine's only timers: retry backoff and approval deadlines, at most one per step or item.
 * Everything else moves when an attempt finishes or someone acts; these move a unit when nothing else
 * will. Timers are not durable: at start the orchestrator arms them again from the stored
 * `next_attempt_at` and `started_at`.
 */
import type { StepRecord } from '../store/workflow-store.ts';

export class StepTimers {
  readonly #timers = new Map<StepRecord, NodeJS.Timeout>();

  /** Calls `fire` after `delay` ms, replacing the unit's earlier timer. */
  set(unit: StepRecord, delay: number, fire: () => void): void {
    this.clear(unit);
    this.#timers.set(
      unit,
      setTimeout(() => {
        this.#timers.delete(unit);
        fire();
      }, delay),
    );
  }

  clear(unit: StepRecord): void {
    const timer = this.#timers.get(unit);
    if (timer) clearTimeout(timer);
    this.#timers.delete(unit);
  }

  clearAll(): void {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }
}

/** Milliseconds left before an approval step that started waiting at `startedAt` times out. */
export function approvalDelay(startedAt: string | null, timeout: number): number {
  return Math.max(0, Date.parse(startedAt ?? '') + timeout - Date.now()) || 0;
}
