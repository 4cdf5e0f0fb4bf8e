/**
 * The attempts whose workers are running now, each with the controller that aborts it: what a cancel
 * aborts and what shutdown waits for. An attempt stays here until its worker has really returned.
 */

import type { StepDefinition } from '../domain/workflow-definition.ts';
import type { AppError } from '../errors.ts';
import type { RunnerEvent } from '../runners/runner.ts';
import type { StepRecord } from '../store/workflow-store.ts';
import type { ActiveRun } from './run-state.ts';

export interface Attempt {
  run: ActiveRun;
  unit: StepRecord;
  number: number;
  controller: AbortController;
  /** The pool slot it holds, given back when it returns. */
  pool: string | null;
  /** Its work (render, then worker) has begun; until then only dropUnstarted gives its slot back. */
  started: boolean;
}

const POLL_MS = 20;
const pause = () => new Promise((resolve) => setTimeout(resolve, POLL_MS));

export class RunningAttempts {
  readonly #running = new Set<Attempt>();

  /** Records the unit's current attempt (its `attempts` count) as running. */
  start(run: ActiveRun, unit: StepRecord): Attempt {
    const attempt = {
      run,
      unit,
      number: unit.attempts,
      controller: new AbortController(),
      pool: unit.pool,
      started: false,
    };
    this.#running.add(attempt);
    return attempt;
  }

  /** The attempt's worker has returned. */
  finished(attempt: Attempt): void {
    this.#running.delete(attempt);
  }

  /**
   * Forgets the run's attempts whose work never began (their start was in a transition that was not
   * written, or the run failed first) and returns them: their slots are the caller's to give back.
   */
  dropUnstarted(run: ActiveRun): Attempt[] {
    const dropped = [...this.#running].filter((a) => a.run === run && !a.started);
    for (const attempt of dropped) this.#running.delete(attempt);
    return dropped;
  }

  has(run: ActiveRun): boolean {
    for (const attempt of this.#running) if (attempt.run === run) return true;
    return false;
  }

  abortRun(run: ActiveRun, reason: AppError): void {
    for (const attempt of this.#running) if (attempt.run === run) attempt.controller.abort(reason);
  }

  /** Waits until every attempt has returned, or `ms` have passed. */
  async wait(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.#running.size > 0 && Date.now() < deadline) await pause();
  }

  /** Aborts every attempt and waits until each worker has returned. */
  async abortAll(reason: AppError): Promise<void> {
    for (const attempt of this.#running) attempt.controller.abort(reason);
    while (this.#running.size > 0) await pause();
  }
}

/**
 * A worker's event as the run's log records it: Claude Code's messages are the agent transcript
 * (`agent`); other workers report a few named events (`worker`).
 */
export function workerEventEntry(def: StepDefinition, attempt: Attempt, event: RunnerEvent): [string, object] {
  const base = { step: attempt.unit.name, item_index: attempt.unit.item_index, attempt: attempt.number };
  return def.worker === 'claude'
    ? ['agent', { ...base, message: event.data }]
    : ['worker', { ...base, event: event.type, data: event.data }];
}
