/**
 * The orchestrator's in-memory picture of an active run, and the pure rules over it: which steps are
 * done, what a run's status is, what a for_each step's output is. The store stays the source of truth;
 * this picture is loaded from it at start and changed only together with a write to it (Transition).
 */
import { randomUUID } from 'node:crypto';
import { addUsage, emptyUsage, type Usage } from '../domain/usage.ts';
import type { StepDefinition, WorkflowDefinition } from '../domain/workflow-definition.ts';
import type { ErrorInfo } from '../errors.ts';
import type { RunRecord, StepRecord, WebhookToQueue, WorkflowBatch } from '../store/workflow-store.ts';
import { ancestry, topologicalOrder, upstreamSteps } from './dag.ts';
import { RenderBudget } from './sliced-render.ts';
import type { StepOutput } from './template.ts';
import type { DlqEntry, RunEvent, RunStatus, StepStatus } from './workflow-api.ts';

export interface ActiveRun {
  record: RunRecord;
  def: WorkflowDefinition;
  order: string[];
  steps: Map<string, StepRecord>;
  /** for_each items by step name, in item order. */
  items: Map<string, StepRecord[]>;
  /**
   * Set by a cancel, or when the engine fails the run (failRun): the run's error once it ends, which
   * fails it even if every step it still had was merely skipped.
   */
  endedBy?: ErrorInfo | undefined;
  /** The bytes its step and item outputs total (output-bounds.ts), once first needed. */
  outputBytes?: number | undefined;
  /** Each step's render budget (template.ts RenderBudget), shared by its attempts and items. */
  renderBudgets?: Map<string, RenderBudget>;
  /** Which steps are upstream of which (dag.ts ancestry), built when first needed. */
  isUpstream?: (name: string, up: string) => boolean;
  /**
   * This process's adoption of the run (run-cluster-store.ts): its transitions are written only while
   * the store's adoption is still this one, so a worker another has taken the run from writes nothing.
   */
  fence?: number | undefined;
}

export const TERMINAL_STEP: ReadonlySet<StepStatus> = new Set(['completed', 'failed', 'skipped']);
/** Statuses in which a unit holds, or waits for, a slot of its own. */
export const IN_FLIGHT: ReadonlySet<StepStatus> = new Set(['queued', 'waiting_pool', 'running', 'retry_wait']);

export function newStep(runId: string, name: string, itemIndex: number | null = null, item?: unknown): StepRecord {
  const step: StepRecord = {
    run_id: runId,
    name,
    item_index: itemIndex,
    status: 'pending',
    attempts: 0,
    attempt_base: 0,
    started_at: null,
    finished_at: null,
    output: null,
    error: null,
    errors: [],
    pool: null,
    next_attempt_at: null,
    inputs: null,
    usage: null,
  };
  if (itemIndex !== null) step.item = item;
  return step;
}

export function loadRun(record: RunRecord, rows: StepRecord[]): ActiveRun {
  const run: ActiveRun = {
    record,
    def: record.definition,
    order: topologicalOrder(record.definition),
    steps: new Map(),
    items: new Map(),
  };
  for (const row of rows) {
    if (row.item_index === null) run.steps.set(row.name, row);
    else {
      const list = run.items.get(row.name) ?? [];
      list[row.item_index] = row;
      run.items.set(row.name, list);
    }
  }
  return run;
}

export function stepDef(run: ActiveRun, name: string): StepDefinition {
  return run.def.steps[name] as StepDefinition;
}

/** The step's render budget (SWITCHYARD_STEP_RENDER_BUDGET), shared by all its attempts and items. */
export function stepBudget(run: ActiveRun, step: string, limitMs: number): RenderBudget {
  run.renderBudgets ??= new Map();
  let budget = run.renderBudgets.get(step);
  if (!budget) {
    budget = new RenderBudget(limitMs);
    run.renderBudgets.set(step, budget);
  }
  return budget;
}

export function hasForEach(step: StepDefinition): boolean {
  return 'for_each' in step && step.for_each !== undefined;
}

/**
 * Outputs of the steps upstream of `name` (what its templates may read), or of those among `only`
 * (the names its templates do read: stepReads), and of its direct dependencies.
 */
export function upstreamOutputs(
  run: ActiveRun,
  name: string,
  only?: ReadonlySet<string> | null,
): { outputs: Record<string, StepOutput>; direct: Record<string, StepOutput> } {
  const outputs: Record<string, StepOutput> = {};
  let upstream: Iterable<string>;
  if (only) {
    run.isUpstream ??= ancestry(run.def);
    const isUpstream = run.isUpstream;
    upstream = [...only].filter((up) => isUpstream(name, up));
  } else upstream = upstreamSteps(run.def, name);
  for (const up of upstream) {
    const output = run.steps.get(up)?.output;
    if (output) outputs[up] = output;
  }
  const direct: Record<string, StepOutput> = {};
  for (const dep of stepDef(run, name).depends_on) {
    const output = run.steps.get(dep)?.output;
    if (output) direct[dep] = output;
  }
  return { outputs, direct };
}

/**
 * A run is over when every step and item is; while any step awaits a human it is awaiting_approval
 * (so a reviewer can list exactly the runs that need them), otherwise running.
 */
export function runStatusOf(run: ActiveRun): { status: RunStatus; error: ErrorInfo | null } {
  const units = [...run.steps.values(), ...[...run.items.values()].flat()];
  if (units.some((u) => u.status === 'awaiting_approval')) return { status: 'awaiting_approval', error: null };
  if (units.some((u) => !TERMINAL_STEP.has(u.status))) return { status: 'running', error: null };
  const failed = run.order.map((n) => run.steps.get(n)).find((s) => s?.status === 'failed');
  if (!failed) return { status: 'completed', error: null };
  const error = failed.error ?? { kind: 'internal', message: 'step failed', retryable: false };
  return { status: 'failed', error: { ...error, message: `step "${failed.name}" failed: ${error.message}` } };
}

/**
 * Brings the run's record (status, usage, times, error) up to date with its steps, with a `run`
 * event when the status changed; true when this transition ends the run.
 */
export function updateRunRecord(tx: Transition, run: ActiveRun): boolean {
  const r = run.record;
  const computed = runStatusOf(run);
  const finished = computed.status === 'completed' || computed.status === 'failed';
  // A cancelled run fails as cancelled, even if every step it still had was merely skipped.
  const status = finished && run.endedBy ? 'failed' : computed.status;
  r.usage = sumUsage(run.steps.values());
  tx.touch(run);
  if (status === r.status) return false;
  r.status = status;
  r.started_at ??= tx.at;
  r.finished_at = finished ? tx.at : null;
  r.error = finished ? (run.endedBy ?? computed.error) : null;
  tx.event(r.id, 'run', { status, error: r.error });
  return finished;
}

/** The output of a for_each step: every item's response (as a JSON list) and data, in item order. */
export function fanInOutput(items: StepRecord[]): NonNullable<StepRecord['output']> {
  const responses = items.map((i) => i.output?.response ?? '');
  const data = items.map((i) => i.output?.data ?? i.output?.response ?? null);
  return { response: JSON.stringify(responses), data };
}

export function sumUsage(units: Iterable<{ usage: Usage | null }>): Usage {
  let total = emptyUsage();
  for (const u of units) total = addUsage(total, u.usage ?? undefined);
  return total;
}

/** A dead letter: the unit's rendered inputs, every attempt's error, the run's inputs and upstream outputs. */
export function dlqEntry(run: ActiveRun, unit: StepRecord, at: string): DlqEntry {
  return {
    id: randomUUID(),
    run_id: run.record.id,
    workflow: run.record.workflow,
    step: unit.name,
    item_index: unit.item_index,
    status: 'open',
    inputs: unit.inputs ?? {},
    errors: [...unit.errors],
    context: { inputs: run.record.inputs, steps: upstreamOutputs(run, unit.name).outputs },
    created_at: at,
    resolved_at: null,
  };
}

/** One transition in the making: everything it changes, then what to do once it is durable. */
export class Transition {
  readonly runs = new Set<ActiveRun>();
  readonly steps = new Set<StepRecord>();
  readonly deleteItems: Array<{ run_id: string; name: string }> = [];
  readonly events: Array<Omit<RunEvent, 'seq'>> = [];
  readonly dlq: DlqEntry[] = [];
  readonly webhooks: WebhookToQueue[] = [];
  /** Run after the write commits, in order (start runners, arm timers, wake waiters). */
  readonly after: Array<() => void> = [];
  readonly now = new Date();

  get at(): string {
    return this.now.toISOString();
  }

  touch(run: ActiveRun, step?: StepRecord): void {
    this.runs.add(run);
    if (step) this.steps.add(step);
  }

  event(runId: string, type: string, data: unknown): void {
    this.events.push({ run_id: runId, type, data, created_at: this.at });
  }

  /**
   * Takes a run out of this transition: the engine is failing it (failRun writes all of it), and
   * what was built for it here must neither overwrite that nor keep the other runs' part from being written.
   */
  drop(run: ActiveRun): void {
    const id = run.record.id;
    this.runs.delete(run);
    for (const step of this.steps) if (step.run_id === id) this.steps.delete(step);
    const keep = <T extends { run_id: string }>(list: T[]) => {
      const rest = list.filter((x) => x.run_id !== id);
      list.splice(0, list.length, ...rest);
    };
    keep(this.events);
    keep(this.dlq);
    keep(this.deleteItems);
    keep(this.webhooks);
  }

  get empty(): boolean {
    return (
      this.runs.size === 0 &&
      this.steps.size === 0 &&
      this.events.length === 0 &&
      this.dlq.length === 0 &&
      this.webhooks.length === 0
    );
  }

  /** A snapshot: the in-memory records keep changing after this returns, the batch must not. */
  toBatch(): WorkflowBatch {
    return {
      runs: [...this.runs].map(({ record: r, fence }) => ({
        id: r.id,
        status: r.status,
        started_at: r.started_at,
        finished_at: r.finished_at,
        error: r.error,
        usage: r.usage,
        holders: r.holders,
        ...(fence === undefined ? {} : { fence }),
      })),
      deleteItems: [...this.deleteItems],
      steps: [...this.steps].map((s) => ({ ...s, errors: [...s.errors] })),
      events: [...this.events],
      dlq: this.dlq.map((d) => ({ ...d })),
      webhooks: [...this.webhooks],
    };
  }
}

/** Every step of a run followed by its items, in topological order. */
export function units(run: ActiveRun): StepRecord[] {
  return run.order.flatMap((name) => [run.steps.get(name)!, ...(run.items.get(name) ?? [])]);
}
