/**
 * The v1 representation of a run: the engine's RunView plus `run_id`, so a client that only knows
 * the article's `session_id` style finds the id under an obvious name. Also the strict JSON bodies of
 * the workflow routes.
 */
import type { Context } from 'hono';
import { z } from 'zod';
import { AppError } from '../errors.ts';
import type { RunView } from '../workflow/workflow-api.ts';
import { readJson } from './json-body.ts';

export function runView(run: RunView): { run_id: string } & RunView {
  return { run_id: run.id, ...run };
}

/**
 * Reads an optional JSON object body against a strict schema: an unknown field, a wrong type or a
 * body that is not an object is a 400 naming the field.
 */
export async function readBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.output<S>> {
  const body = await readJson(c, { optional: true });
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0]!;
    const field = [...issue.path.map(String), key].join('.');
    throw new AppError('validation', `unknown field ${JSON.stringify(field)}`, { field });
  }
  const field = issue.path.length > 0 ? issue.path.map(String).join('.') : 'body';
  throw new AppError('validation', `${field} ${issue.message}`, { field });
}

/** A free-text comment on a decision, and the optional step of a rerun. */
export const commentBody = z.strictObject({
  comment: z
    .string({ error: 'must be a string' })
    .max(10_000, { error: 'must be at most 10000 characters' })
    .optional(),
});

export const rerunBody = z.strictObject({
  step: z.string({ error: 'must be a step name' }).min(1, { error: 'must be a step name' }).max(64).optional(),
});

export const startRunBody = z.strictObject({
  inputs: z.record(z.string(), z.unknown(), { error: 'must be an object of input name → value' }).optional(),
});

/** Cursors are the sequence numbers the store hands out as next_cursor; anything else is refused here. */
export function cursorParam(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (!/^\d{1,18}$/.test(value)) {
    throw new AppError('validation', 'cursor must be a value returned as next_cursor', { field: 'cursor' });
  }
  return value;
}

/** Checks a query parameter against a fixed list of values. */
export function enumParam<T extends string>(
  value: string | undefined,
  name: string,
  values: readonly T[],
): T | undefined {
  if (value === undefined || value === '') return undefined;
  if (!values.includes(value as T)) {
    throw new AppError('validation', `${name} must be one of ${values.join(', ')}`, { field: name });
  }
  return value as T;
}
