/**
 * The v1 representation of a run: the engine's RunView plus `run_id`, so a client that only knows
 * the article's `session_id` style finds the id under an obvious name. Also how the workflow routes
 * read their strict JSON bodies.
 */
import type { Context } from 'hono';
import type { z } from 'zod';
import type { RunView } from '../workflow/workflow-api.ts';
import { readJson } from './json-body.ts';
import { validationError } from './openapi.ts';

export function runView(run: RunView): { run_id: string } & RunView {
  return { run_id: run.id, ...run };
}

/**
 * Reads an optional JSON object body against a strict contract schema: an unknown field, a wrong type
 * or a body that is not an object is a 400 naming the field.
 */
export async function readBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.output<S>> {
  const parsed = schema.safeParse(await readJson(c, { optional: true }));
  if (parsed.success) return parsed.data;
  throw validationError(parsed.error.issues);
}
