/**
 * What happens to runs from outside the state machine's own flow: resuming them at start, and what
 * people do — cancel, decide an approval, rerun from a step, redrive or discard a dead letter. Each is
 * one transition of the orchestrator's state machine, written before it acts.
 */
import { AppError, type ErrorInfo } from '../errors.ts';
import type { RunRecord, StepRecord } from '../store/workflow-store.ts';
import { downstreamSteps } from './dag.ts';
import { Orchestrator } from './orchestrator.ts';
import { type ActiveRun, hasForEach, loadRun, stepDef, TERMINAL_STEP, Transition, units } from './run-state.ts';
import type { DlqEntry } from './workflow-api.ts';

/** Crashes in a row a run may be in flight for: the start after the second does not resume it. */
export const MAX_CRASHES = 2;

export class RunControl extends Orchestrator {
  /**
   * People's actions, one at a time. Each checks a run's state and then changes it, with awaits in
   * between (loading a finished run, re-reading a DLQ entry, the write): two redrives, a redrive and a
   * discard, or two reruns must not both pass their checks on what the other is about to change.
   */
  #acting: Promise<unknown> = Promise.resolve();

  #serially<T>(action: () => Promise<T>): Promise<T> {
    const result = this.#acting.then(action);
    this.#acting = result.catch(() => undefined);
    return result;
  }

  /**
   * Takes up a run this process has just adopted (run-driver.ts): interrupted attempts are retried
   * under their policy, waits are armed again, and the run goes on. `holders` is the adoption's count:
   * a run whose last MAX_CRASHES holders all died with it in flight is failed (DLQ) instead, so a run
   * whose resumption takes the process down cannot do it forever.
   */
  protected async resumeRun(run: ActiveRun): Promise<void> {
    this.active.set(run.record.id, run);
    this.pools.declare(run.def.pools);
    if (run.record.holders - 1 >= MAX_CRASHES) {
      this.failRun(run, 'crash loop', {
        kind: 'internal',
        message:
          `the server died ${run.record.holders - 1} times in a row while this run was in flight; it is not ` +
          'resumed again (redrive its DLQ entry to try once more)',
        retryable: false,
      });
      return;
    }
    await this.transition(run, (tx) => this.#resumeUnits(tx, run));
  }

  /** This process's adoption of the run, if it holds it (run-driver.ts): the fence of its writes. */
  protected fenceOf(_id: string): number | undefined {
    return undefined;
  }

  #resumeUnits(tx: Transition, run: ActiveRun): void {
    const interrupted: ErrorInfo = {
      kind: 'interrupted',
      message: 'the server stopped while this step was running',
      retryable: true,
    };
    for (const unit of units(run)) {
      const def = stepDef(run, unit.name);
      if (unit.status === 'running' && !(unit.item_index === null && hasForEach(def))) {
        this.attemptFailed(tx, run, unit, interrupted);
      } else if (unit.status === 'waiting_pool') {
        this.tryStart(tx, run, unit);
      } else if (unit.status === 'retry_wait') {
        const delay = Math.max(0, Date.parse(unit.next_attempt_at ?? '') - Date.now()) || 0;
        tx.after.push(() => this.armRetry(run, unit, delay));
      } else if (unit.status === 'awaiting_approval') {
        tx.after.push(() => this.armApproval(run, unit));
      }
    }
    this.settle(tx, run);
  }

  /** The active run, or the stored one loaded again (a failed run being resumed). */
  async #runFor(id: string): Promise<ActiveRun> {
    const active = this.active.get(id);
    if (active) return active;
    const record: RunRecord | undefined = await this.deps.store.getRun(id);
    if (!record) throw new AppError('not_found', `no run with id ${JSON.stringify(id)}`, { field: 'id' });
    const run = loadRun(record, await this.deps.store.getSteps(id));
    run.fence = this.fenceOf(id);
    return run;
  }

  /** Cancels a run that is not over: running attempts are aborted and fail `cancelled`, the rest is skipped. */
  cancel(id: string): Promise<void> {
    return this.#serially(() => this.#cancel(id));
  }

  async #cancel(id: string): Promise<void> {
    const run = this.active.get(id);
    if (!run || run.record.status === 'completed' || run.record.status === 'failed') return;
    const tx = new Transition();
    const error: ErrorInfo = { kind: 'cancelled', message: 'the run was cancelled', retryable: false };
    run.endedBy = error;
    for (const unit of units(run)) {
      if (TERMINAL_STEP.has(unit.status)) continue;
      if (unit.status === 'running') {
        if (unit.attempts > 0) unit.errors.push({ ...error, attempt: unit.attempts, at: tx.at });
        this.fail(tx, run, unit, error, false);
      } else {
        this.setStatus(tx, run, unit, 'skipped');
      }
    }
    this.#settleOrFail(tx, run);
    tx.after.push(() => this.abortRun(run, new AppError('cancelled', 'the run was cancelled')));
    await this.commit(tx);
  }

  /**
   * Resolves an approval step: approved completes it; rejected fails it `permission_denied` (no DLQ
   * entry), as does its deadline passing (Orchestrator.armApproval).
   */
  decide(id: string, step: string, decision: { approved: boolean; comment?: string }): Promise<void> {
    return this.#serially(() => this.#decide(id, step, decision));
  }

  async #decide(id: string, step: string, decision: { approved: boolean; comment?: string }): Promise<void> {
    const run = this.active.get(id);
    const unit = run?.steps.get(step);
    if (!run || !unit || unit.status !== 'awaiting_approval') {
      throw new AppError('conflict', `step "${step}" of run ${id} is not awaiting approval`, { field: 'step' });
    }
    const tx = new Transition();
    this.clearTimer(unit);
    const comment = decision.comment;
    tx.event(id, 'approval', { step, approved: decision.approved, ...(comment === undefined ? {} : { comment }) });
    if (decision.approved) {
      const data = { approved: true, ...(comment === undefined ? {} : { comment }) };
      this.complete(tx, run, unit, { response: comment ?? 'approved', data });
    } else {
      this.rejectApproval(tx, run, unit, `rejected by the reviewer${comment ? `: ${comment}` : ''}`);
    }
    this.#settleOrFail(tx, run);
    await this.commit(tx);
  }

  /** Runs a failed run again from `step` and everything downstream of it; upstream outputs are kept. */
  rerun(id: string, step?: string): Promise<void> {
    return this.#serially(() => this.#rerun(id, step));
  }

  async #rerun(id: string, step?: string): Promise<void> {
    const run = await this.#runFor(id);
    if (run.record.status !== 'failed') {
      throw new AppError('conflict', `run ${id} is ${run.record.status}; only a failed run can be rerun`);
    }
    const target = step ?? run.order.find((name) => run.steps.get(name)?.status === 'failed');
    if (target === undefined) throw new AppError('conflict', `run ${id} has no failed step to rerun from`);
    if (!run.steps.has(target)) {
      throw new AppError('validation', `step "${target}" is not a step of workflow ${run.record.workflow}`, {
        field: 'step',
      });
    }
    const tx = new Transition();
    const reset = new Set([target, ...downstreamSteps(run.def, target)]);
    // Steps a cancel stopped or skipped never finished: they run again too, or the run could end
    // `completed` around an approval that nobody gave. (One skipped for a failure elsewhere is skipped again.)
    for (const [name, s] of run.steps) {
      if (s.status === 'skipped' || (s.status === 'failed' && s.error?.kind === 'cancelled')) reset.add(name);
    }
    for (const name of reset) this.#reset(tx, run, run.steps.get(name)!, true);
    const open = await this.deps.store.listDlq({ status: 'open', run_id: id, limit: 10_000 });
    for (const entry of open.items) if (reset.has(entry.step)) this.#resolve(tx, entry);
    await this.#resume(tx, run);
  }

  /** Redrive: the dead-lettered step (or item) gets fresh attempts and the run goes on from there. */
  redrive(entryId: string): Promise<void> {
    return this.#serially(async () => this.#redrive(await this.#entry(entryId)));
  }

  /** Marks an open DLQ entry discarded: the step stays failed. */
  discard(entryId: string): Promise<void> {
    return this.#serially(async () => this.#discard(await this.#entry(entryId)));
  }

  /** The entry as stored now: an earlier action may just have resolved it. */
  async #entry(id: string): Promise<DlqEntry> {
    const entry = await this.deps.store.getDlq(id);
    if (!entry) throw new AppError('not_found', `no DLQ entry with id ${JSON.stringify(id)}`, { field: 'id' });
    return entry;
  }

  async #redrive(entry: DlqEntry): Promise<void> {
    if (entry.status !== 'open') throw new AppError('conflict', `DLQ entry ${entry.id} is already ${entry.status}`);
    const run = await this.#runFor(entry.run_id);
    const parent = run.steps.get(entry.step);
    const unit = entry.item_index === null ? parent : run.items.get(entry.step)?.[entry.item_index];
    if (!parent || !unit || unit.status !== 'failed') {
      throw new AppError('conflict', `step "${entry.step}" of run ${entry.run_id} is no longer failed`);
    }
    const tx = new Transition();
    this.#reset(tx, run, unit, false);
    if (unit !== parent) {
      // The for_each step runs again around its items: completed ones keep their outputs.
      if (parent.status === 'failed') {
        this.#reset(tx, run, parent, false);
        this.setStatus(tx, run, parent, 'running');
      }
      for (const item of run.items.get(entry.step) ?? [])
        if (item.status === 'skipped') this.#reset(tx, run, item, false);
    }
    for (const name of downstreamSteps(run.def, entry.step)) {
      const down = run.steps.get(name)!;
      if (down.status === 'skipped') this.#reset(tx, run, down, false);
    }
    this.#resolve(tx, entry);
    await this.#resume(tx, run);
  }

  async #discard(entry: DlqEntry): Promise<void> {
    if (entry.status !== 'open') throw new AppError('conflict', `DLQ entry ${entry.id} is already ${entry.status}`);
    const tx = new Transition();
    tx.dlq.push({ ...entry, status: 'discarded', resolved_at: tx.at });
    tx.event(entry.run_id, 'dlq', {
      id: entry.id,
      step: entry.step,
      item_index: entry.item_index,
      status: 'discarded',
    });
    await this.commit(tx);
  }

  /** settle, or failRun when it throws: an action of a person must not leave the run half moved. */
  #settleOrFail(tx: Transition, run: ActiveRun): void {
    try {
      this.settle(tx, run);
    } catch (err) {
      tx.drop(run);
      this.failRun(run, err);
    }
  }

  /** Back to pending with a fresh retry budget; the attempt count and error history stay. */
  #reset(tx: Transition, run: ActiveRun, unit: StepRecord, full: boolean): void {
    unit.attempt_base = unit.attempts;
    unit.error = null;
    unit.finished_at = null;
    unit.next_attempt_at = null;
    if (full) {
      unit.started_at = null;
      unit.output = null;
      if (run.items.delete(unit.name)) tx.deleteItems.push({ run_id: run.record.id, name: unit.name });
    }
    this.setStatus(tx, run, unit, 'pending');
  }

  #resolve(tx: Transition, entry: DlqEntry): void {
    tx.dlq.push({ ...entry, status: 'retried', resolved_at: tx.at });
    tx.event(entry.run_id, 'dlq', { id: entry.id, step: entry.step, item_index: entry.item_index, status: 'retried' });
  }

  async #resume(tx: Transition, run: ActiveRun): Promise<void> {
    run.endedBy = undefined;
    // A person chose to run it again: earlier crashes no longer count (this process holds it now),
    // and outputs a rerun cleared no longer weigh.
    run.record.holders = 1;
    run.outputBytes = undefined;
    run.renderBudgets = undefined;
    this.active.set(run.record.id, run);
    this.pools.declare(run.def.pools);
    this.#settleOrFail(tx, run);
    await this.commit(tx);
  }
}
