/** The pools contract: each resource pool's capacity, who holds its slots and who waits for one. */
import { createRoute, z } from '@hono/zod-openapi';
import { errorResponses, jsonResponse, listOf } from './common.ts';

const PoolUnit = {
  run_id: z.string(),
  workflow: z.string(),
  step: z.string(),
  item_index: z.number().nullable().openapi({ description: 'The for_each item, or null for a whole step.' }),
};

export const Pool = z
  .object({
    name: z.string(),
    capacity: z.number(),
    source: z.enum(['builtin', 'operator', 'workflow']).openapi({
      description:
        "Where the capacity comes from: a built-in pool (claude, llm, http), the operator's SWITCHYARD_POOLS, or the definitions that declare it.",
    }),
    workflows: z
      .array(z.string())
      .openapi({ description: 'The registered workflows that declare it; [] for builtin and operator pools.' }),
    running: z.number(),
    holders: z
      .array(z.object({ ...PoolUnit, since: z.string() }))
      .openapi({ description: 'The steps holding a slot now, and since when.' }),
    waiting: z
      .array(z.object(PoolUnit))
      .openapi({ description: 'The steps waiting for a slot, in the order they will get one.' }),
  })
  .openapi('Pool');
export type Pool = z.infer<typeof Pool>;

export const listPoolsRoute = createRoute({
  method: 'get',
  path: '/v1/pools',
  summary: 'List the resource pools with their capacity, holders and waiting steps.',
  responses: { 200: jsonResponse('All pools', listOf(Pool)), ...errorResponses },
});
