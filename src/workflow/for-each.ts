/**
 * for_each steps: fan-out renders the list and makes one item per element, the items start under the
 * step's `parallelism`, and fan-in completes the step once every item has — or fails it once an item
 * failed for good and none is left running. Items live in `run.items` and are written like steps.
 */

import { addUsage, emptyUsage, type Usage } from '../domain/usage.ts';
import type { StepDefinition } from '../domain/workflow-definition.ts';
import { AppError, type ErrorInfo, toErrorInfo } from '../errors.ts';
import type { OutputEnvelope } from '../runners/runner.ts';
import type { StepRecord } from '../store/workflow-store.ts';
import { fanInTooLarge } from './output-bounds.ts';
import { type ActiveRun, fanInOutput, IN_FLIGHT, newStep, type Transition, upstreamOutputs } from './run-state.ts';
import { renderList, templateScope } from './template.ts';

/**
 * Items one for_each step may have. The list is data (an input, an upstream response of up to 10 MiB),
 * and every item is a row written in the fan-out's transaction and a unit the engine settles.
 */
export const MAX_FOR_EACH_ITEMS = 10_000;

/** The state machine's moves that fan-out and fan-in make. */
export interface ItemMoves {
  setStatus(tx: Transition, run: ActiveRun, unit: StepRecord, status: StepRecord['status']): void;
  tryStart(tx: Transition, run: ActiveRun, unit: StepRecord): void;
  attemptFailed(tx: Transition, run: ActiveRun, unit: StepRecord, error: ErrorInfo): void;
  /** Records an output, under the output limits. */
  complete(tx: Transition, run: ActiveRun, unit: StepRecord, output: OutputEnvelope): void;
  /** False once the engine is shutting down: nothing new starts. */
  mayStart(): boolean;
  /** SWITCHYARD_MAX_STEP_OUTPUT_BYTES: a fan-in is a step output too. */
  stepLimit: number;
}

/** Starts a for_each step: its list is rendered and becomes pending items (or the step's attempt fails). */
export function fanOut(moves: ItemMoves, tx: Transition, run: ActiveRun, step: StepRecord, def: StepDefinition): void {
  let list: unknown[];
  try {
    const scope = templateScope({
      inputs: run.record.inputs,
      outputs: upstreamOutputs(run, step.name).outputs,
      runId: run.record.id,
    });
    const field = `steps.${step.name}.for_each`;
    list = renderList((def as { for_each: string }).for_each, scope, { field });
    if (list.length > MAX_FOR_EACH_ITEMS) {
      throw new AppError(
        'validation',
        `${field}: the list has ${list.length} items; a for_each step takes at most ${MAX_FOR_EACH_ITEMS}`,
        { field },
      );
    }
  } catch (err) {
    step.attempts++;
    moves.attemptFailed(tx, run, step, toErrorInfo(err));
    return;
  }
  step.started_at = tx.at;
  const items = list.map((value, i) => newStep(run.record.id, step.name, i, value));
  run.items.set(step.name, items);
  for (const item of items) tx.touch(run, item);
  moves.setStatus(tx, run, step, 'running');
}

/** Fan-in, and starting the next items within `parallelism`; true when anything changed. */
export function settleItems(
  moves: ItemMoves,
  tx: Transition,
  run: ActiveRun,
  parent: StepRecord,
  def: StepDefinition,
): boolean {
  const items = run.items.get(parent.name) ?? [];
  const failed = items.find((i) => i.status === 'failed');
  let active = items.filter((i) => IN_FLIGHT.has(i.status)).length;
  let changed = false;
  if (failed) {
    for (const item of items) {
      if (item.status !== 'pending') continue;
      moves.setStatus(tx, run, item, 'skipped');
      changed = true;
    }
    if (active > 0) return changed;
    const error = failed.error ?? { kind: 'internal' as const, message: 'item failed', retryable: false };
    parent.error = { ...error, message: `item ${failed.item_index}: ${error.message}` };
    moves.setStatus(tx, run, parent, 'failed');
    return true;
  }
  if (items.every((i) => i.status === 'completed')) {
    // Measured before it is built: the JSON list of thousands of responses could pass V8's string limit.
    const tooLarge = fanInTooLarge(parent, items, moves.stepLimit);
    if (tooLarge) moves.attemptFailed(tx, run, parent, tooLarge.toInfo());
    else moves.complete(tx, run, parent, fanInOutput(items));
    return true;
  }
  const limit = ('parallelism' in def ? def.parallelism : undefined) ?? Number.POSITIVE_INFINITY;
  for (const item of items) {
    if (!moves.mayStart() || active >= limit) break;
    if (item.status !== 'pending') continue;
    moves.tryStart(tx, run, item);
    active++;
    changed = true;
  }
  return changed;
}

/**
 * An item's usage counts towards its for_each step as soon as it is spent. Added, not summed over the
 * items again: that would make a step of n items cost O(n²).
 */
export function itemUsage(tx: Transition, run: ActiveRun, unit: StepRecord, spent: Usage | undefined): void {
  if (unit.item_index === null || spent === undefined) return;
  const parent = run.steps.get(unit.name)!;
  parent.usage = addUsage(parent.usage ?? emptyUsage(), spent);
  tx.touch(run, parent);
}
