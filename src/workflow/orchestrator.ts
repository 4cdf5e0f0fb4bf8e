/**
 * The workflow state machine. Every change is made to the in-memory picture of a run and to a
 * Transition at once; the Transition is written to the store, and only once it is durable are its
 * effects carried out (runners started, timers armed, events published, waiters woken). A crash
 * between the two leaves a state that recovery (start) resumes.
 *
 * Event-driven: a finishing attempt settles its run in the same tick — marks dependants running,
 * hands its pool slot to the next waiter — and all of that is one write. Timers exist only for retry
 * backoff and approval deadlines.
 */
import { EventEmitter } from 'node:events';
import { AppError, type ErrorInfo, toErrorInfo } from '../errors.ts';
import { addUsage, emptyUsage, type OutputEnvelope, type RunContext, type RunnerEvent } from '../runners/runner.ts';
import type { StepRecord, WorkflowStore } from '../store/workflow-store.ts';
import { defaultPoolFor } from './definition.ts';
import type { StepDefinition } from './definition-schema.ts';
import { Pools } from './pools.ts';
import { backoffDelay, retryPolicy, shouldRetry } from './retry.ts';
import {
  type ActiveRun,
  dlqEntry,
  fanInOutput,
  hasForEach,
  IN_FLIGHT,
  newStep,
  runStatusOf,
  stepDef,
  sumUsage,
  TERMINAL_STEP,
  Transition,
  upstreamOutputs,
} from './run-state.ts';
import { attemptStep, renderStep, type StepRunnerDeps, stepReads } from './step-runner.ts';
import { renderList, templateScope } from './template.ts';
import type { RunEvent } from './workflow-api.ts';

export interface Logger {
  error(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface OrchestratorDeps {
  store: WorkflowStore;
  runner: StepRunnerDeps;
  /** Built-in pool capacities (claude, llm, http) and the operator's overrides. */
  pools: { builtin: Record<string, number>; operator: Record<string, number> };
  logger: Logger;
  /** Applied to everything stored from a worker (outputs, errors, agent messages). */
  redact?: <T>(value: T) => T;
  /** Backoff jitter source; injectable for tests. */
  random?: () => number;
}

interface Attempt {
  run: ActiveRun;
  unit: StepRecord;
  number: number;
  controller: AbortController;
  pool: string | null;
}

interface Waiter {
  run: ActiveRun;
  unit: StepRecord;
}

export class Orchestrator {
  protected readonly deps: OrchestratorDeps;
  protected readonly active = new Map<string, ActiveRun>();
  readonly pools: Pools<Waiter>;
  readonly #attempts = new Set<Attempt>();
  readonly #timers = new Map<StepRecord, NodeJS.Timeout>();
  readonly #emitter = new EventEmitter();
  readonly #commits = new Set<Promise<void>>();
  /** No new attempts start (shutting down); attempts already running may still finish and be recorded. */
  #draining = false;
  /** Results are no longer recorded: the steps stay running in the store and the next start retries them. */
  #stopped = false;

  constructor(deps: OrchestratorDeps) {
    this.deps = deps;
    this.#emitter.setMaxListeners(0);
    this.pools = new Pools<Waiter>(
      deps.pools.builtin,
      deps.pools.operator,
      (w) => w.unit.status === 'waiting_pool' && this.active.get(w.run.record.id) === w.run,
    );
  }

  onEvent(runId: string, listener: (event: RunEvent) => void): () => void {
    this.#emitter.on(`event:${runId}`, listener);
    return () => this.#emitter.off(`event:${runId}`, listener);
  }

  onTerminal(runId: string, listener: () => void): () => void {
    this.#emitter.on(`terminal:${runId}`, listener);
    return () => this.#emitter.off(`terminal:${runId}`, listener);
  }

  /** Takes on a run just created in the store. */
  async adopt(run: ActiveRun): Promise<void> {
    this.active.set(run.record.id, run);
    this.pools.declare(run.def.pools);
    const tx = new Transition();
    this.settle(tx, run);
    await this.commit(tx);
  }

  /** Stops starting work, lets running attempts finish for `graceMs`, then aborts what is left. */
  async stop(graceMs: number): Promise<void> {
    this.#draining = true;
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    const deadline = Date.now() + graceMs;
    while (this.#attempts.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    this.#stopped = true;
    const reason = new AppError('interrupted', 'the server is shutting down');
    for (const attempt of this.#attempts) attempt.controller.abort(reason);
    while (this.#attempts.size > 0) await new Promise((r) => setTimeout(r, 20));
    await Promise.allSettled([...this.#commits]);
  }

  /** Writes a transition, then carries out its effects. */
  protected commit(tx: Transition): Promise<void> {
    const done = (async () => {
      let saved: RunEvent[] = [];
      if (!tx.empty) {
        try {
          saved = await this.deps.store.apply(tx.toBatch());
        } catch (err) {
          // Nothing of this transition happened durably, so none of its effects may happen either.
          this.deps.logger.error({ err }, 'workflow engine: writing a transition failed');
          throw err;
        }
      }
      for (const event of saved) this.#emitter.emit(`event:${event.run_id}`, event);
      for (const effect of tx.after) effect();
    })();
    this.#commits.add(done);
    void done.catch(() => undefined).finally(() => this.#commits.delete(done));
    return done;
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
          changed = this.#settleItems(tx, run, step, def) || changed;
        }
      }
    }
    const r = run.record;
    const computed = runStatusOf(run);
    const finished = computed.status === 'completed' || computed.status === 'failed';
    // A cancelled run fails as cancelled, even if every step it still had was merely skipped.
    const status = finished && run.cancelled ? 'failed' : computed.status;
    r.usage = sumUsage(run.steps.values());
    tx.touch(run);
    if (status === r.status) return;
    r.status = status;
    r.started_at ??= tx.at;
    r.finished_at = finished ? tx.at : null;
    r.error = finished ? (run.cancelled ?? computed.error) : null;
    tx.event(r.id, 'run', { status, error: r.error });
    if (finished) {
      tx.after.push(() => {
        if (this.active.get(r.id) === run) this.active.delete(r.id);
        this.#emitter.emit(`terminal:${r.id}`);
      });
    }
  }

  protected setStatus(tx: Transition, run: ActiveRun, unit: StepRecord, status: StepRecord['status']): void {
    unit.status = status;
    if (TERMINAL_STEP.has(status)) {
      unit.finished_at = tx.at;
      unit.next_attempt_at = null;
      this.clearTimer(unit);
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
        step.inputs = renderStep(step.name, def, this.#scope(run, step), this.deps.runner.config).shown;
      } catch (err) {
        this.attemptFailed(tx, run, step, toErrorInfo(err));
        return;
      }
      this.setStatus(tx, run, step, 'awaiting_approval');
      tx.after.push(() => this.armApproval(run, step));
      return;
    }
    if (!hasForEach(def)) {
      this.tryStart(tx, run, step);
      return;
    }
    let list: unknown[];
    try {
      const scope = templateScope({ inputs: run.record.inputs, outputs: upstreamOutputs(run, step.name).outputs });
      list = renderList((def as { for_each: string }).for_each, scope, { field: `steps.${step.name}.for_each` });
    } catch (err) {
      step.attempts++;
      this.attemptFailed(tx, run, step, toErrorInfo(err));
      return;
    }
    step.started_at = tx.at;
    const items = list.map((value, i) => newStep(run.record.id, step.name, i, value));
    run.items.set(step.name, items);
    for (const item of items) tx.touch(run, item);
    this.setStatus(tx, run, step, 'running');
  }

  /** Fan-in: a for_each step completes when every item has, and fails once an item failed and none is left running. */
  #settleItems(tx: Transition, run: ActiveRun, parent: StepRecord, def: StepDefinition): boolean {
    const items = run.items.get(parent.name) ?? [];
    const failed = items.find((i) => i.status === 'failed');
    let active = items.filter((i) => IN_FLIGHT.has(i.status)).length;
    let changed = false;
    if (failed) {
      for (const item of items) {
        if (item.status !== 'pending') continue;
        this.setStatus(tx, run, item, 'skipped');
        changed = true;
      }
      if (active > 0) return changed;
      const error = failed.error ?? { kind: 'internal' as const, message: 'item failed', retryable: false };
      parent.error = { ...error, message: `item ${failed.item_index}: ${error.message}` };
      this.setStatus(tx, run, parent, 'failed');
      return true;
    }
    if (items.every((i) => i.status === 'completed')) {
      parent.output = fanInOutput(items);
      parent.usage = sumUsage(items);
      parent.error = null;
      this.setStatus(tx, run, parent, 'completed');
      return true;
    }
    const limit = ('parallelism' in def ? def.parallelism : undefined) ?? Number.POSITIVE_INFINITY;
    for (const item of items) {
      if (this.#draining || active >= limit) break;
      if (item.status !== 'pending') continue;
      this.tryStart(tx, run, item);
      active++;
      changed = true;
    }
    return changed;
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

  /** The unit holds its pool slot (if any): render, mark running, and start the worker once that is durable. */
  #launch(tx: Transition, run: ActiveRun, unit: StepRecord): void {
    const def = stepDef(run, unit.name);
    unit.attempts++;
    unit.started_at ??= tx.at;
    unit.finished_at = null;
    let rendered: ReturnType<typeof renderStep>;
    try {
      rendered = renderStep(unit.name, def, this.#scope(run, unit), this.deps.runner.config);
    } catch (err) {
      this.#release(tx, unit.pool);
      this.attemptFailed(tx, run, unit, toErrorInfo(err));
      return;
    }
    unit.inputs = rendered.shown;
    this.setStatus(tx, run, unit, 'running');
    if (def.worker === 'transform') {
      this.complete(tx, run, unit, rendered.input.output as OutputEnvelope);
      return;
    }
    const attempt: Attempt = { run, unit, number: unit.attempts, controller: new AbortController(), pool: unit.pool };
    this.#attempts.add(attempt);
    tx.after.push(() => void this.#execute(attempt, def, rendered.input));
  }

  #scope(run: ActiveRun, unit: StepRecord) {
    const { outputs, direct } = upstreamOutputs(run, unit.name, stepReads(unit.name, stepDef(run, unit.name)));
    const base = { inputs: run.record.inputs, outputs, direct };
    return unit.item_index === null ? base : { ...base, item: unit.item, itemIndex: unit.item_index };
  }

  #release(tx: Transition, pool: string | null): void {
    if (pool === null) return;
    for (const waiter of this.pools.release(pool)) {
      if (this.#draining) continue;
      this.#launch(tx, waiter.run, waiter.unit);
      this.settle(tx, waiter.run);
    }
  }

  async #execute(attempt: Attempt, def: StepDefinition, input: Record<string, unknown>): Promise<void> {
    const { run, unit, controller } = attempt;
    const ctx: RunContext = { signal: controller.signal, emit: (e) => this.#workerEvent(attempt, def, e) };
    const meta = { runId: run.record.id, step: unit.name, itemIndex: unit.item_index, attempt: attempt.number };
    const { output, error, usage } = await attemptStep(def, input, ctx, this.deps.runner, meta);
    this.#attempts.delete(attempt);
    const tx = new Transition();
    this.#release(tx, attempt.pool);
    const current =
      !this.#stopped &&
      unit.status === 'running' &&
      unit.attempts === attempt.number &&
      this.active.get(run.record.id) === run;
    if (current) {
      if (output) this.complete(tx, run, unit, output);
      else this.attemptFailed(tx, run, unit, this.#redact(error!), usage);
      this.settle(tx, run);
    }
    await this.commit(tx).catch(() => undefined);
  }

  #workerEvent(attempt: Attempt, def: StepDefinition, event: RunnerEvent): void {
    if (this.#stopped) return;
    const { unit } = attempt;
    const base = { step: unit.name, item_index: unit.item_index, attempt: attempt.number };
    // Claude Code's messages are the agent transcript; other workers report a few named events.
    const [type, data] =
      def.worker === 'claude'
        ? ['agent', { ...base, message: event.data }]
        : ['worker', { ...base, event: event.type, data: event.data }];
    const tx = new Transition();
    tx.event(attempt.run.record.id, type, this.#redact(data));
    void this.commit(tx).catch(() => undefined);
  }

  protected complete(tx: Transition, run: ActiveRun, unit: StepRecord, out: OutputEnvelope): void {
    const output: StepRecord['output'] = { response: out.response };
    if (out.data !== undefined) output.data = out.data;
    if (out.usage !== undefined) output.usage = out.usage;
    if (out.detail !== undefined) output.detail = out.detail;
    unit.output = this.#redact(output);
    unit.error = null;
    unit.usage = addUsage(unit.usage ?? emptyUsage(), out.usage);
    this.setStatus(tx, run, unit, 'completed');
    this.#itemUsage(tx, run, unit);
  }

  /** Records a failed attempt: retried after backoff while the policy allows, else the unit fails (DLQ). */
  protected attemptFailed(
    tx: Transition,
    run: ActiveRun,
    unit: StepRecord,
    error: ErrorInfo,
    usage?: OutputEnvelope['usage'],
  ): void {
    const def = stepDef(run, unit.name);
    if (usage) unit.usage = addUsage(unit.usage ?? emptyUsage(), usage);
    this.#itemUsage(tx, run, unit);
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

  #itemUsage(tx: Transition, run: ActiveRun, unit: StepRecord): void {
    if (unit.item_index === null) return;
    const parent = run.steps.get(unit.name)!;
    parent.usage = sumUsage(run.items.get(unit.name) ?? []);
    tx.touch(run, parent);
  }

  protected armRetry(run: ActiveRun, unit: StepRecord, delay: number): void {
    this.clearTimer(unit);
    if (this.#draining) return;
    this.#timers.set(
      unit,
      setTimeout(() => {
        this.#timers.delete(unit);
        if (unit.status !== 'retry_wait' || this.active.get(run.record.id) !== run || this.#draining) return;
        const tx = new Transition();
        this.tryStart(tx, run, unit);
        this.settle(tx, run);
        void this.commit(tx).catch(() => undefined);
      }, delay),
    );
  }

  /** An approval step with a `timeout` fails `timeout` when nobody decides in time. */
  protected armApproval(run: ActiveRun, unit: StepRecord): void {
    const def = stepDef(run, unit.name);
    if (def.worker !== 'approval' || def.timeout === undefined || this.#draining) return;
    const delay = Math.max(0, Date.parse(unit.started_at ?? '') + def.timeout - Date.now()) || 0;
    this.clearTimer(unit);
    this.#timers.set(
      unit,
      setTimeout(() => {
        this.#timers.delete(unit);
        if (unit.status !== 'awaiting_approval' || this.active.get(run.record.id) !== run) return;
        const tx = new Transition();
        const error = new AppError('timeout', `no decision within ${def.timeout} ms`).toInfo();
        unit.errors.push({ ...error, attempt: unit.attempts, at: tx.at });
        this.fail(tx, run, unit, error, true);
        this.settle(tx, run);
        void this.commit(tx).catch(() => undefined);
      }, delay),
    );
  }

  protected clearTimer(unit: StepRecord): void {
    const timer = this.#timers.get(unit);
    if (timer) clearTimeout(timer);
    this.#timers.delete(unit);
  }

  /** Aborts the running attempts of a run (cancel). Their slots come back when they have really stopped. */
  protected abortRun(run: ActiveRun, reason: AppError): void {
    for (const attempt of this.#attempts) if (attempt.run === run) attempt.controller.abort(reason);
  }

  #redact<T>(value: T): T {
    return this.deps.redact ? this.deps.redact(value) : value;
  }
}

/** Every step of a run followed by its items, in topological order. */
export function units(run: ActiveRun): StepRecord[] {
  return run.order.flatMap((name) => [run.steps.get(name)!, ...(run.items.get(name) ?? [])]);
}
