/**
 * Token usage and cost: what runners report, the engine sums per step and run, and the store keeps.
 * Below the runners, the engine and the store, so each can take it without importing the others.
 */

/** Token usage and cost of one unit of work, summed over model calls. */
export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens?: number;
  cache_creation_input_tokens?: number;
  cost_usd: number;
}

export function emptyUsage(): Usage {
  return { input_tokens: 0, output_tokens: 0, cost_usd: 0 };
}

export function addUsage(a: Usage, b: Usage | undefined): Usage {
  if (!b) return a;
  return {
    input_tokens: a.input_tokens + b.input_tokens,
    output_tokens: a.output_tokens + b.output_tokens,
    cache_read_input_tokens: (a.cache_read_input_tokens ?? 0) + (b.cache_read_input_tokens ?? 0),
    cache_creation_input_tokens: (a.cache_creation_input_tokens ?? 0) + (b.cache_creation_input_tokens ?? 0),
    cost_usd: a.cost_usd + b.cost_usd,
  };
}
