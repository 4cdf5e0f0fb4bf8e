/**
 * The workflow state machine. Every change is made to the in-memory picture of a run and to a
 * Transition at once; the Transition is written to the store, and only once it is durable are its
 * effects carried out (runners started, timers armed, events published, waiters woken). A crash
 * between the two leaves a state that recovery (start) resumes.
 *
 * Event-driven: a finishing attempt settles its run in the same tick — marks dependants running,
 * hands its pool slot to the next waiter — and all of that is one write. Timers exist only for retry
 * backoff and approval deadlines.
 *
 * Parts: transition-writer.ts (durable write, then effects), for-each.ts (items), step-timers.ts,
 * running-attempts.ts, run-state.ts (the run's picture, pure rules); run-control.ts adds what comes
 * from outside (recovery at start, cancel, approvals, rerun, the DLQ).
 */

import { addUsage, emptyUsage } from '../domain/usage.ts';
import type { StepDefinition } from '../domain/workflow-definition.ts';
import { AppError, type ErrorInfo, toErrorInfo } from '../errors.ts';
import type { OutputEnvelope, RunContext, RunnerEvent } from '../runners/runner.ts';
import { RunFencedError } from '../store/run-cluster-store.ts';
import type { StepRecord } from '../store/workflow-store.ts';
import { announceApproval, DEADLINE_COMMENT } from './approval-notice.ts';
import { ClusterPools } from './cluster-pools.ts';
import { defaultPoolFor } from './definition.ts';
import type { OrchestratorDeps } from './engine-deps.ts';
import { fanOut, type ItemMoves, itemUsage, settleItems } from './for-each.ts';
import { checkOutput, keepOutput, type OutputLimits, outputLimits } from './output-bounds.ts';
import { Pools } from './pools.ts';
import { backoffDelay, retryPolicy, shouldRetry } from './retry.ts';
import { endRun, endRunOnly, failureInfo, writeEnd } from './run-failure.ts';
import {
  type ActiveRun,
  dlqEntry,
  hasForEach,
  stepBudget,
  stepDef,
  TERMINAL_STEP,
  Transition,
  updateRunRecord,
  upstreamOutputs,
} from './run-state.ts';
import { type Attempt, RunningAttempts, workerEventEntry } from './running-attempts.ts';
import { SlicedRender, takeTurnBytes } from './sliced-render.ts';
import {
  type AttemptOutcome,
  type RenderedStep,
  renderAndAttempt,
  renderApproval,
  renderStep,
  stepReads,
} from './step-runner.ts';
import { approvalDelay, StepTimers } from './step-timers.ts';
import { TransitionWriter } from './transition-writer.ts';
import type { RunEvent } from './workflow-api.ts';

interface Waiter {
  run: ActiveRun;
  unit: StepRecord;
}

export class Orchestrator {
  protected readonly deps: OrchestratorDeps;
  protected readonly active = new Map<string, ActiveRun>();
  readonly pools: Pools<Waiter> | ClusterPools<Waiter>;
  readonly #attempts = new RunningAttempts();
  readonly #timers = new StepTimers();
  readonly #writer: TransitionWriter;
  readonly #itemMoves: ItemMoves;
  readonly #limits: OutputLimits;
  /** No new attempts start (shutting down); attempts already running may still finish and be recorded. */
  #draining = false;
  /** Results are no longer recorded: the steps stay running in the store and the next start retries them. */
  #stopped = false;

  constructor(deps: OrchestratorDeps) {
    this.deps = deps;
    this.#writer = new TransitionWriter(deps.store, deps.logger);
    const checkouts = deps.runner.checkouts;
    // A run's repository checkouts go when it ends (kept on failure where a step asks: keep: on_failure).
    if (checkouts) {
      this.#writer.onAnyTerminal((id) => {
        void deps.store
          .getRun(id)
          .then((r) => checkouts.runEnded(id, r?.status !== 'completed'))
          .catch((err: unknown) => deps.logger.warn({ err, run: id }, 'removing the checkouts of a run failed'));
      });
    }
    this.#limits = outputLimits(deps.runner.config);
    const live = (w: Waiter) => w.unit.status === 'waiting_pool' && this.active.get(w.run.record.id) === w.run;
    const same = (a: Waiter, b: Waiter) => a.run === b.run && a.unit === b.unit;
    this.pools = deps.sharedPools
      ? new ClusterPools<Waiter>(deps.pools.builtin, deps.pools.operator, deps.sharedPools, {
          key: (w) => ({ run_id: w.run.record.id, step: w.unit.name, item_index: w.unit.item_index }),
          live,
          same,
          onAdmit: (w) => this.#admitted(w),
          onError: (err) => deps.logger.error({ err }, 'workflow engine: a cluster pool operation failed'),
        })
      : new Pools<Waiter>(deps.pools.builtin, deps.pools.operator, live, same);
    this.#itemMoves = {
      setStatus: (tx, run, unit, status) => this.setStatus(tx, run, unit, status),
      tryStart: (tx, run, unit) => this.tryStart(tx, run, unit),
      attemptFailed: (tx, run, unit, error) => this.attemptFailed(tx, run, unit, error),
      complete: (tx, run, unit, output) => this.complete(tx, run, unit, output),
      mayStart: () => !this.#draining,
      stepLimit: this.#limits.step,
    };
  }

  onEvent(runId: string, listener: (event: RunEvent) => void): () => void {
    return this.#writer.onEvent(runId, listener);
  }

  onTerminal(runId: string, listener: () => void): () => void {
    return this.#writer.onTerminal(runId, listener);
  }

  /** Every batch of run events, and every run's end, once durable: what other nodes are told of. */
  onAnyEvents(listener: (events: RunEvent[]) => void): () => void {
    return this.#writer.onAnyEvents(listener);
  }

  onAnyTerminal(listener: (runId: string) => void): () => void {
    return this.#writer.onAnyTerminal(listener);
  }

  /** Stops starting work, lets running attempts finish for `graceMs`, then aborts what is left. */
  async stop(graceMs: number): Promise<void> {
    this.#draining = true;
    this.#timers.clearAll();
    if (this.pools instanceof ClusterPools) this.pools.close();
    await this.#attempts.wait(graceMs);
    this.#stopped = true;
    await this.#attempts.abortAll(new AppError('interrupted', 'the server is shutting down'));
    await this.#writer.settled();
    // A clean stop sets the runs still in flight down: the next start takes them on afresh, not after a crash.
    const tx = new Transition();
    for (const run of this.active.values()) {
      if (run.record.holders === 0) continue;
      run.record.holders = 0;
      tx.touch(run);
    }
    await this.#writer.commit(tx).catch(() => undefined);
  }

  /**
   * Writes a transition, then carries out its effects (TransitionWriter). A transition that cannot be
   * written leaves its runs ahead of the store: they are failed (failRun), not left to diverge.
   */
  protected async commit(tx: Transition): Promise<void> {
    try {
      await this.#writer.commit(tx);
    } catch (err) {
      // Another worker took this run over (run-driver.ts): this process lets it go without a write.
      const fenced = err instanceof RunFencedError ? err.runId : undefined;
      if (fenced !== undefined) this.lostRun(fenced);
      if (!this.#stopped) for (const run of tx.runs) if (run.record.id !== fenced) this.failRun(run, err);
      throw err;
    }
    this.committed(tx);
  }

  /** Called after each transition this engine wrote (run-driver.ts checks whether a run can be let go). */
  protected committed(_tx: Transition): void {}

  /**
   * The store refused a transition of `runId`: another worker holds it now. Its attempts are aborted and
   * it leaves this process's memory; nothing is written (every write would be refused too).
   */
  protected lostRun(runId: string): void {
    const run = this.active.get(runId);
    if (!run) return;
    this.active.delete(runId);
    for (const unit of [...run.steps.values(), ...[...run.items.values()].flat()]) this.#timers.clear(unit);
    this.#attempts.abortRun(run, new AppError('interrupted', 'another worker took this run over'));
    // Slots of attempts that never began go to other runs' waiters (attempts that began give theirs back
    // when their workers return, in #execute, which then writes nothing of this run: it is no longer active).
    const tx = new Transition();
    for (const attempt of this.#attempts.dropUnstarted(run)) this.#release(tx, attempt.pool, attempt);
    void this.commit(tx).catch(() => undefined);
  }

  /** Resolves once every transition written so far has settled. */
  protected settledWrites(): Promise<void> {
    return this.#writer.settled();
  }

  /** Whether any attempt of the run is still running here (its worker has not returned). */
  protected attemptsRunning(run: ActiveRun): boolean {
    return this.#attempts.has(run);
  }

  /**
   * One move of the state machine for `run`, built by `build` and written. An exception while
   * building it (a bug, a RangeError on some outsized value) fails that run; the rest of the
   * transition, which may hold other runs' moves, is still written. Never rejects.
   */
  protected async transition(run: ActiveRun, build: (tx: Transition) => void): Promise<void> {
    const tx = new Transition();
    try {
      build(tx);
    } catch (err) {
      tx.drop(run);
      this.failRun(run, err);
    }
    await this.commit(tx).catch(() => undefined);
  }

  /**
   * Fails a run the engine cannot carry on (run-failure.ts): its attempts are aborted and their slots
   * given back, and it ends failed with `error` (default: `internal`, naming `cause`). Never throws.
   */
  protected failRun(run: ActiveRun, cause: unknown, error?: ErrorInfo): void {
    if (this.active.get(run.record.id) !== run) return;
    this.active.delete(run.record.id);
    const info = this.#redact(error ?? failureInfo(cause));
    this.deps.logger.error({ err: cause, run: run.record.id }, 'workflow engine: failing a run');
    this.#attempts.abortRun(run, new AppError(info.kind, info.message));
    const tx = new Transition();
    for (const attempt of this.#attempts.dropUnstarted(run)) this.#release(tx, attempt.pool, attempt);
    try {
      endRun(tx, run, info, {
        setStatus: (t, r, u, status) => this.setStatus(t, r, u, status),
        fail: (t, r, u, e, dlq) => this.fail(t, r, u, e, dlq),
      });
    } catch (err) {
      this.deps.logger.error({ err, run: run.record.id }, 'workflow engine: recording only the end of a failed run');
      endRunOnly(tx, run, info);
    }
    writeEnd(this.#writer, tx, run, info);
  }

  /** Moves a run forward as far as it goes now: skips, starts, fan-in, and the run's own status. */
  protected settle(tx: Transition, run: ActiveRun): void {
    for (let changed = true; changed; ) {
      changed = false;
      for (const name of run.order) {
        const step = run.steps.get(name)!;
        const def = stepDef(run, name);
        if (step.status === 'pending') {
          const deps = def.depends_on.map((d) => run.steps.get(d)?.status);
          if (deps.some((s) => s === 'failed' || s === 'skipped')) {
            this.setStatus(tx, run, step, 'skipped');
            changed = true;
          } else if (deps.every((s) => s === 'completed') && !this.#draining) {
            this.#begin(tx, run, step);
            changed = true;
          }
        } else if (step.status === 'running' && hasForEach(def)) {
          changed = settleItems(this.#itemMoves, tx, run, step, def) || changed;
        }
      }
    }
    if (!updateRunRecord(tx, run)) return;
    tx.after.push(() => {
      if (this.active.get(run.record.id) === run) this.active.delete(run.record.id);
      this.#writer.terminal(run.record.id);
    });
  }

  protected setStatus(tx: Transition, run: ActiveRun, unit: StepRecord, status: StepRecord['status']): void {
    unit.status = status;
    if (TERMINAL_STEP.has(status)) {
      unit.finished_at = tx.at;
      unit.next_attempt_at = null;
      this.#timers.clear(unit);
    }
    tx.touch(run, unit);
    const data: Record<string, unknown> = { step: unit.name, item_index: unit.item_index, status };
    if (unit.attempts > 0) data.attempt = unit.attempts;
    if (status === 'failed' || status === 'retry_wait') data.error = unit.error;
    if (status === 'retry_wait') data.next_attempt_at = unit.next_attempt_at;
    if (status === 'waiting_pool' || status === 'running') data.pool = unit.pool;
    tx.event(run.record.id, 'step', data);
  }

  #begin(tx: Transition, run: ActiveRun, step: StepRecord): void {
    const def = stepDef(run, step.name);
    if (def.worker === 'approval') {
      step.attempts++;
      step.started_at = tx.at;
      try {
        step.inputs = renderApproval(step.name, def, this.#scope(run, step));
      } catch (err) {
        this.attemptFailed(tx, run, step, toErrorInfo(err));
        return;
      }
      this.setStatus(tx, run, step, 'awaiting_approval');
      announceApproval(tx, run, step, def, {
        signing: Boolean(this.deps.runner.config.webhookSecret),
        redact: (value) => this.#redact(value),
        kick: this.deps.webhookQueued,
        warn: (obj, msg) => this.deps.logger.warn(obj, msg),
      });
      tx.after.push(() => this.armApproval(run, step));
      return;
    }
    if (hasForEach(def)) fanOut(this.#itemMoves, tx, run, step, def);
    else this.tryStart(tx, run, step);
  }

  /** Starts an attempt now if its pool has a free slot, else queues it (`waiting_pool`). */
  protected tryStart(tx: Transition, run: ActiveRun, unit: StepRecord): void {
    const def = stepDef(run, unit.name);
    unit.pool = ('pool' in def ? def.pool : undefined) ?? defaultPoolFor(def.worker) ?? null;
    unit.next_attempt_at = null;
    if (unit.pool !== null && !this.pools.acquire(unit.pool, { run, unit })) {
      if (unit.status !== 'waiting_pool') this.setStatus(tx, run, unit, 'waiting_pool');
      else tx.touch(run, unit);
      return;
    }
    this.#launch(tx, run, unit);
  }

  /**
   * The unit holds its pool slot (if any): render its inputs, mark it running, and start the worker
   * once that is durable. A quick render finishes right here (SlicedRender.runNow), so
   * the inputs are stored with the attempt and a transform completes in this same write; a slower
   * one goes on in slices as part of the attempt (#execute), never holding the event loop.
   */
  #launch(tx: Transition, run: ActiveRun, unit: StepRecord): void {
    const def = stepDef(run, unit.name);
    unit.attempts++;
    unit.started_at ??= tx.at;
    unit.finished_at = null;
    const budget = stepBudget(run, unit.name, this.deps.runner.config.stepRenderBudget);
    const scope = this.#scope(run, unit);
    const render = new SlicedRender(
      renderStep(unit.name, def, scope, this.deps.runner.config),
      budget,
      `steps.${unit.name}`,
    );
    try {
      render.runNow();
    } catch (err) {
      this.#release(tx, unit.pool, { run, unit });
      this.attemptFailed(tx, run, unit, toErrorInfo(err));
      return;
    }
    if (render.done) unit.inputs = render.value.shown;
    this.setStatus(tx, run, unit, 'running');
    if (render.done && def.worker === 'transform') {
      const output = render.value.input.output as OutputEnvelope;
      // A fan-out of large transforms would otherwise all be measured, redacted and written in this one turn.
      if (takeTurnBytes(output.response.length)) {
        this.complete(tx, run, unit, output);
        return;
      }
    }
    const attempt = this.#attempts.start(run, unit);
    tx.after.push(() => void this.#execute(attempt, def, render));
  }

  #scope(run: ActiveRun, unit: StepRecord) {
    const { outputs, direct } = upstreamOutputs(run, unit.name, stepReads(unit.name, stepDef(run, unit.name)));
    const base = { inputs: run.record.inputs, outputs, direct, runId: run.record.id };
    return unit.item_index === null ? base : { ...base, item: unit.item, itemIndex: unit.item_index };
  }

  /**
   * A cluster pool took a slot for a waiting unit (cluster-pools.ts): it starts now, unless it no longer
   * wants the slot (its run was cancelled, let go or taken over), which then goes back at once.
   */
  #admitted(waiter: Waiter): void {
    const { run, unit } = waiter;
    if (unit.status !== 'waiting_pool' || this.active.get(run.record.id) !== run || this.#draining) {
      this.pools.release(unit.pool ?? '', waiter);
      return;
    }
    void this.transition(run, (tx) => {
      this.#launch(tx, run, unit);
      this.settle(tx, run);
    });
  }

  /** Gives a slot back; the waiters it starts belong to other runs, each failed alone if its move throws. */
  #release(tx: Transition, pool: string | null, holder: Waiter): void {
    if (pool === null) return;
    for (const waiter of this.pools.release(pool, { run: holder.run, unit: holder.unit })) {
      if (this.#draining) continue;
      try {
        this.#launch(tx, waiter.run, waiter.unit);
        this.settle(tx, waiter.run);
      } catch (err) {
        tx.drop(waiter.run);
        this.failRun(waiter.run, err);
      }
    }
  }

  #isCurrent(attempt: Attempt): boolean {
    const { run, unit } = attempt;
    return (
      !this.#stopped &&
      unit.status === 'running' &&
      unit.attempts === attempt.number &&
      this.active.get(run.record.id) === run
    );
  }

  /** Runs one attempt and records its outcome. Never rejects: it is started as a bare effect. */
  async #execute(attempt: Attempt, def: StepDefinition, render: SlicedRender<RenderedStep>): Promise<void> {
    const { run, unit } = attempt;
    let outcome: AttemptOutcome;
    try {
      outcome = await this.#attempt(attempt, def, render);
    } catch (err) {
      outcome = { error: toErrorInfo(err) };
    }
    this.#attempts.finished(attempt);
    await this.transition(run, (tx) => {
      this.#release(tx, attempt.pool, attempt);
      if (!this.#isCurrent(attempt)) return;
      if (outcome.output) this.complete(tx, run, unit, outcome.output);
      else this.attemptFailed(tx, run, unit, outcome.error!, outcome.usage);
      this.settle(tx, run);
    });
  }

  async #attempt(attempt: Attempt, def: StepDefinition, render: SlicedRender<RenderedStep>): Promise<AttemptOutcome> {
    const { run, unit, controller } = attempt;
    attempt.started = true;
    if (!this.#isCurrent(attempt)) return { error: new AppError('interrupted', 'the attempt was stopped').toInfo() };
    const ctx: RunContext = { signal: controller.signal, emit: (e) => this.#workerEvent(attempt, def, e) };
    const meta = { runId: run.record.id, step: unit.name, itemIndex: unit.item_index, attempt: attempt.number };
    return renderAndAttempt(def, render, ctx, this.deps.runner, meta, (shown) => {
      if (this.#isCurrent(attempt)) unit.inputs = shown;
    });
  }

  #workerEvent(attempt: Attempt, def: StepDefinition, event: RunnerEvent): void {
    if (this.#stopped) return;
    try {
      const [type, data] = workerEventEntry(def, attempt, event);
      const tx = new Transition();
      tx.event(attempt.run.record.id, type, this.#redact(data));
      void this.commit(tx).catch(() => undefined);
    } catch (err) {
      // A worker's event that cannot be recorded is dropped; the worker goes on.
      this.deps.logger.warn({ err, run: attempt.run.record.id }, 'workflow engine: a worker event was dropped');
    }
  }

  /**
   * Records a unit's output, or fails the attempt `output_too_large` when the output, or the run's
   * outputs with it, would pass their limits (output-bounds.ts).
   */
  protected complete(tx: Transition, run: ActiveRun, unit: StepRecord, out: OutputEnvelope): void {
    const output: StepRecord['output'] = { response: out.response };
    if (out.data !== undefined) output.data = out.data;
    if (out.usage !== undefined) output.usage = out.usage;
    if (out.detail !== undefined) output.detail = out.detail;
    const checked = checkOutput(run, unit, output, this.#limits);
    if ('error' in checked) {
      this.attemptFailed(tx, run, unit, checked.error.toInfo(), out.usage);
      return;
    }
    keepOutput(run, unit, this.#redact(output)!, checked);
    unit.error = null;
    unit.usage = addUsage(unit.usage ?? emptyUsage(), out.usage);
    this.setStatus(tx, run, unit, 'completed');
    itemUsage(tx, run, unit, out.usage);
  }

  /** Records a failed attempt: retried after backoff while the policy allows, else the unit fails (DLQ). */
  protected attemptFailed(
    tx: Transition,
    run: ActiveRun,
    unit: StepRecord,
    error: ErrorInfo,
    usage?: OutputEnvelope['usage'],
  ): void {
    // Every failure passes here (worker, render, output check): its message may quote a URL or a reply.
    error = this.#redact(error);
    const def = stepDef(run, unit.name);
    if (usage) unit.usage = addUsage(unit.usage ?? emptyUsage(), usage);
    itemUsage(tx, run, unit, usage);
    unit.errors.push({ ...error, attempt: unit.attempts, at: tx.at });
    unit.error = error;
    const policy = retryPolicy(def.worker, 'retry' in def ? def.retry : undefined);
    const made = unit.attempts - unit.attempt_base;
    if (!shouldRetry(policy, made, error)) {
      this.fail(tx, run, unit, error, true);
      return;
    }
    const delay = backoffDelay(policy, made, this.deps.random);
    unit.next_attempt_at = new Date(tx.now.getTime() + delay).toISOString();
    this.setStatus(tx, run, unit, 'retry_wait');
    tx.after.push(() => this.armRetry(run, unit, delay));
  }

  /** Fails a unit for good; with `dlq`, its inputs, errors and context go to the dead-letter queue. */
  protected fail(tx: Transition, run: ActiveRun, unit: StepRecord, error: ErrorInfo, dlq: boolean): void {
    unit.error = error;
    this.setStatus(tx, run, unit, 'failed');
    if (!dlq) return;
    const entry = dlqEntry(run, unit, tx.at);
    tx.dlq.push(entry);
    tx.event(run.record.id, 'dlq', { id: entry.id, step: unit.name, item_index: unit.item_index, status: 'open' });
  }

  protected armRetry(run: ActiveRun, unit: StepRecord, delay: number): void {
    this.#timers.clear(unit);
    if (this.#draining) return;
    this.#timers.set(unit, delay, () => {
      if (unit.status !== 'retry_wait' || this.active.get(run.record.id) !== run || this.#draining) return;
      void this.transition(run, (tx) => {
        this.tryStart(tx, run, unit);
        this.settle(tx, run);
      });
    });
  }

  /**
   * An approval step with a `timeout` is rejected when nobody decides by its deadline (started_at +
   * timeout, both stored: a server that starts after the deadline rejects it at once).
   */
  protected armApproval(run: ActiveRun, unit: StepRecord): void {
    const def = stepDef(run, unit.name);
    if (def.worker !== 'approval' || def.timeout === undefined || this.#draining) return;
    this.#timers.set(unit, approvalDelay(unit.started_at, def.timeout), () => {
      if (unit.status !== 'awaiting_approval' || this.active.get(run.record.id) !== run) return;
      void this.transition(run, (tx) => {
        tx.event(run.record.id, 'approval', {
          step: unit.name,
          approved: false,
          comment: DEADLINE_COMMENT,
          deadline: true,
        });
        this.rejectApproval(tx, run, unit, `rejected: ${DEADLINE_COMMENT} (${def.timeout} ms)`);
        this.settle(tx, run);
      });
    });
  }

  /** A rejected approval fails `permission_denied`, without a DLQ entry: a person (or their silence) said no. */
  protected rejectApproval(tx: Transition, run: ActiveRun, unit: StepRecord, message: string): void {
    const error = new AppError('permission_denied', message).toInfo();
    unit.errors.push({ ...error, attempt: unit.attempts, at: tx.at });
    this.fail(tx, run, unit, error, false);
  }

  protected clearTimer(unit: StepRecord): void {
    this.#timers.clear(unit);
  }

  /** Aborts the running attempts of a run (cancel). Their slots come back when they have really stopped. */
  protected abortRun(run: ActiveRun, reason: AppError): void {
    this.#attempts.abortRun(run, reason);
  }

  #redact<T>(value: T): T {
    return this.deps.redact ? this.deps.redact(value) : value;
  }
}
