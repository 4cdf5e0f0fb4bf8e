/**
 * Shapes every resource of the API shares: the error envelope, pages, usage, and the query
 * parameters whose rules (and messages) are the same on every route. Part of the contract: imports
 * nothing but zod, so a browser app can use it without pulling in server code.
 */
import { z } from '@hono/zod-openapi';

/** Every 4xx/5xx body: `{error: {kind, message, field?}}`; `field` names the input at fault. */
export const ErrorEnvelope = z
  .object({
    error: z.object({
      kind: z.string().openapi({ description: 'validation, not_found, unauthorized, queue_full …' }),
      message: z.string(),
      field: z.string().optional(),
    }),
  })
  .openapi('Error');
export type ErrorEnvelope = z.infer<typeof ErrorEnvelope>;

/**
 * `T | null` for a named (component) schema. zod's `.nullable()` on one documents it wrongly (the
 * component itself turns nullable, or an allOf that null can never satisfy); a union is `anyOf`.
 */
export const orNull = <T extends z.ZodType>(schema: T) => z.union([schema, z.null()]);

/** A failure as it is stored on a task, a run or a step. */
export const ErrorInfo = z
  .object({ kind: z.string(), message: z.string(), retryable: z.boolean(), field: z.string().optional() })
  .openapi('ErrorInfo');
export type ErrorInfo = z.infer<typeof ErrorInfo>;

export const Usage = z
  .object({
    input_tokens: z.number(),
    output_tokens: z.number(),
    cache_read_input_tokens: z.number().optional(),
    cache_creation_input_tokens: z.number().optional(),
    cost_usd: z.number(),
  })
  .openapi('Usage');
export type Usage = z.infer<typeof Usage>;

/** A page of a list, newest first; pass `next_cursor` back as `cursor` for the next one (null: no more). */
export const pageOf = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item), next_cursor: z.string().nullable() });
export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

/** A whole list in one answer. */
export const listOf = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item) });

/** Query values arrive as text; an empty one (`?limit=`) means absent, as if it were not sent. */
const absentIfEmpty = (v: unknown) => (v === '' ? undefined : v);

/** A number query parameter within [min, max], e.g. `limit`, `wait`. */
export function numberQuery(min: number, max: number) {
  const error = `must be a number between ${min} and ${max}`;
  return z.preprocess(absentIfEmpty, z.coerce.number({ error }).min(min, { error }).max(max, { error }).optional());
}

/** A query parameter from a fixed list of values, e.g. `status`. */
export function enumQuery<const T extends readonly [string, ...string[]]>(values: T) {
  return z.preprocess(absentIfEmpty, z.enum(values, { error: `must be one of ${values.join(', ')}` }).optional());
}

/** Cursors are the sequence numbers the store hands out as next_cursor; anything else is refused. */
export const cursorQuery = z.preprocess(
  absentIfEmpty,
  z
    .string({ error: 'must be a value returned as next_cursor' })
    .regex(/^\d{1,18}$/, { error: 'must be a value returned as next_cursor' })
    .optional(),
);

export const limitQuery = numberQuery(1, 200).openapi({ description: 'Items per page (default 50).' });

export const IdParams = z.object({ id: z.string() });

/** Documented, and checked by the route itself (its rule and message are the route's). */
export const IdempotencyHeaders = z.object({
  'idempotency-key': z.string().optional().openapi({
    description: 'A repeat with the same key answers the first request instead of starting another.',
  }),
});

const json = <T>(schema: T) => ({ content: { 'application/json': { schema } } });

/** A JSON response with a description. */
export const jsonResponse = <T extends z.ZodType>(description: string, schema: T) => ({ description, ...json(schema) });

/** The error answers every route can give: bad input, auth, not found, conflicts, limits. */
export const errorResponses = {
  '4XX': jsonResponse('Bad request, missing key, not found, conflict, queue full …', ErrorEnvelope),
  '5XX': jsonResponse('Internal error, or an upstream failure', ErrorEnvelope),
} as const;

/** A JSON request body read by the route with the JSON depth bound and these field rules. */
export const jsonBody = <T extends z.ZodType>(schema: T, required = true) => ({ required, ...json(schema) });
