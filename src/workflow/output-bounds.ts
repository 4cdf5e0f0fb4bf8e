/**
 * What a run may keep: each output (a step's, a for_each item's, a fan-in's) up to
 * SWITCHYARD_MAX_STEP_OUTPUT_BYTES, and all of a run's outputs together up to
 * SWITCHYARD_MAX_RUN_CONTEXT_BYTES. Outputs are data from outside (a worker, an http response, a
 * fan-in of thousands of items); past V8's string limit (~512 MiB) a JSON.stringify of them throws,
 * and long before it they stall the event loop and fill the store.
 *
 * Sizes are measured by walking the value, never by building its JSON, and the walk stops as soon as
 * it passes the limit: measuring a huge value costs no more than measuring one of the limit's size.
 */
import type { Config } from '../config.ts';
import { AppError } from '../errors.ts';
import type { StepRecord } from '../store/workflow-store.ts';
import type { ActiveRun } from './run-state.ts';
import { units } from './run-state.ts';

export interface OutputLimits {
  step: number;
  run: number;
}

export function outputLimits(config: Pick<Config, 'maxStepOutputBytes' | 'maxRunContextBytes'>): OutputLimits {
  return { step: config.maxStepOutputBytes, run: config.maxRunContextBytes };
}

/** Characters JSON writes as an escape (`\"`, `\\`, `\n`, `\u001f`): counted at 6 bytes, the most. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are exactly the characters JSON escapes.
const ESCAPED = /[\u0000-\u001f"\\]/g;

/**
 * The size in bytes of `value` as JSON (UTF-8, escapes counted at their longest), or some number
 * above `limit` as soon as it is known to be larger. Iterative, so deep nesting costs no stack.
 */
export function jsonSize(value: unknown, limit: number): number {
  let size = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    if (size > limit) return size;
    const v = stack.pop();
    if (typeof v === 'string') {
      // Every character takes at least one byte: a longer string is over without reading it.
      if (v.length > limit - size) return limit + 1;
      size += Buffer.byteLength(v) + 2 + 5 * (v.length - v.replace(ESCAPED, '').length);
    } else if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') {
      size += String(v).length;
    } else if (Array.isArray(v)) {
      if (v.length > limit - size) return limit + 1;
      size += Math.max(2, 1 + v.length); // brackets and commas
      for (let i = v.length - 1; i >= 0; i--) stack.push(v[i]);
    } else if (v !== null && typeof v === 'object') {
      const keys = Object.keys(v);
      if (keys.length > limit - size) return limit + 1;
      size += Math.max(2, 1 + keys.length);
      for (const key of keys) {
        size += Buffer.byteLength(key) + 3;
        stack.push((v as Record<string, unknown>)[key]);
      }
    } else {
      size += 4; // null, and what JSON leaves out or writes as null
    }
  }
  return size;
}

/** Sizes of stored outputs, measured once each. */
const sizes = new WeakMap<object, number>();

/** The size of a unit's stored output (0 for none). */
export function outputSize(output: StepRecord['output']): number {
  if (!output) return 0;
  let size = sizes.get(output);
  if (size === undefined) {
    size = jsonSize(output, Number.MAX_SAFE_INTEGER);
    sizes.set(output, size);
  }
  return size;
}

/** What the run's outputs total now; computed from its units the first time, then kept up to date. */
export function contextSize(run: ActiveRun): number {
  run.outputBytes ??= units(run).reduce((sum, u) => sum + outputSize(u.output), 0);
  return run.outputBytes;
}

function unitName(unit: StepRecord): string {
  return unit.item_index === null ? `step "${unit.name}"` : `item ${unit.item_index} of step "${unit.name}"`;
}

/**
 * Whether `output` may be kept as the unit's output: its size, or the `output_too_large` error that
 * fails the attempt instead (not retryable: the same output would be as large again).
 */
export function checkOutput(
  run: ActiveRun,
  unit: StepRecord,
  output: NonNullable<StepRecord['output']>,
  limits: OutputLimits,
): { size: number; total: number } | { error: AppError } {
  const size = jsonSize(output, limits.step);
  if (size > limits.step) {
    return {
      error: new AppError(
        'output_too_large',
        `the output of ${unitName(unit)} is more than ${limits.step} bytes (SWITCHYARD_MAX_STEP_OUTPUT_BYTES)`,
      ),
    };
  }
  const total = contextSize(run) - outputSize(unit.output) + size;
  if (total > limits.run) {
    return {
      error: new AppError(
        'output_too_large',
        `keeping the output of ${unitName(unit)} (${size} bytes) would take the run's outputs to ${total} bytes, ` +
          `more than ${limits.run} (SWITCHYARD_MAX_RUN_CONTEXT_BYTES)`,
      ),
    };
  }
  return { size, total };
}

/** Keeps `output` as the unit's output, with its measured size counted in the run's total. */
export function keepOutput(
  run: ActiveRun,
  unit: StepRecord,
  output: NonNullable<StepRecord['output']>,
  checked: { size: number; total: number },
): void {
  sizes.set(output, checked.size);
  unit.output = output;
  run.outputBytes = checked.total;
}

/**
 * Whether a for_each step's fan-in (every item's response as a JSON list, and their data) stays
 * within the step limit, measured before the list's JSON is built: built first, it could pass V8's
 * string limit and throw.
 */
export function fanInTooLarge(parent: StepRecord, items: StepRecord[], limit: number): AppError | undefined {
  let size = 0;
  for (const item of items) {
    size += jsonSize(item.output?.response ?? '', limit - size) + 1;
    size += jsonSize(item.output?.data ?? item.output?.response ?? null, limit - size) + 1;
    if (size > limit) {
      return new AppError(
        'output_too_large',
        `the fan-in of step "${parent.name}" (${items.length} items) is more than ${limit} bytes ` +
          '(SWITCHYARD_MAX_STEP_OUTPUT_BYTES)',
      );
    }
  }
  return undefined;
}
