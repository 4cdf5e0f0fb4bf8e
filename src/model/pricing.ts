/**
 * What a model call costs, so the model proxy can hold a task to its `max_budget_usd` with figures
 * of its own rather than the agent's (which a script run by the agent never reports).
 *
 * Anthropic's public list prices in USD per million tokens, as known on 2025-11-24 (Claude Opus 4.5
 * launch). Cache writes are the 5-minute rate (1.25x input) with the 1-hour rate (2x input) beside it;
 * cache reads are 0.1x input. Operators whose prices differ (a newer model, a negotiated rate, a
 * provider in front of Anthropic) pass their own table to `ModelProxy.start(upstream, { prices })`.
 * A model no rule matches is priced at the most expensive rule, so a budget errs on the safe side.
 */

export interface Price {
  /** Per million input tokens (USD). */
  input: number;
  output: number;
  /** 5-minute cache writes. */
  cacheWrite: number;
  /** 1-hour cache writes; `cacheWrite` when omitted. */
  cacheWrite1h?: number;
  cacheRead: number;
  /** Per server-side web search (USD). */
  webSearch?: number;
  /** Sonnet's long-context rate: a call whose prompt exceeds `aboveTokens` is priced at this instead. */
  longContext?: { aboveTokens: number } & Omit<Price, 'longContext' | 'webSearch'>;
}

export interface PriceRule {
  /** What the rule covers, for people reading the table. */
  family: string;
  /** Tested against the request's `model`. The first rule that matches prices the call. */
  match: RegExp;
  price: Price;
}

/** Token counts of one call as the Messages API reports them. */
export interface CallUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  /** Of `cache_creation_input_tokens`, those written for an hour. */
  cache_write_1h_tokens: number;
  web_search_requests: number;
}

const WEB_SEARCH = 10 / 1000;

export const DEFAULT_PRICES: readonly PriceRule[] = [
  {
    // Opus 4 and 4.1 (and Claude 3 Opus) kept the old rate, three times Opus 4.5's.
    family: 'opus 4.0 / 4.1 / 3',
    match: /opus-4-[01]|opus-4-20\d{6}|opus-4(?![-.\d])|3-opus/,
    price: { input: 15, output: 75, cacheWrite: 18.75, cacheWrite1h: 30, cacheRead: 1.5, webSearch: WEB_SEARCH },
  },
  {
    family: 'opus',
    match: /opus/,
    price: { input: 5, output: 25, cacheWrite: 6.25, cacheWrite1h: 10, cacheRead: 0.5, webSearch: WEB_SEARCH },
  },
  {
    family: 'sonnet',
    match: /sonnet/,
    price: {
      input: 3,
      output: 15,
      cacheWrite: 3.75,
      cacheWrite1h: 6,
      cacheRead: 0.3,
      webSearch: WEB_SEARCH,
      longContext: { aboveTokens: 200_000, input: 6, output: 22.5, cacheWrite: 7.5, cacheWrite1h: 12, cacheRead: 0.6 },
    },
  },
  {
    // Haiku 4.5's rate; Haiku 3.5 ($0.80 / $4) and 3 ($0.25 / $1.25) cost less, so this errs safe.
    family: 'haiku',
    match: /haiku/,
    price: { input: 1, output: 5, cacheWrite: 1.25, cacheWrite1h: 2, cacheRead: 0.1, webSearch: WEB_SEARCH },
  },
];

/** The dearest rule's price: what a model no rule names is charged. */
function dearest(rules: readonly PriceRule[]): Price {
  const rate = (p: Price) => p.input + p.output;
  return rules.map((r) => r.price).reduce((a, b) => (rate(b) > rate(a) ? b : a));
}

export class PriceTable {
  readonly #rules: readonly PriceRule[];
  readonly #fallback: Price;

  constructor(rules: readonly PriceRule[] = DEFAULT_PRICES) {
    if (rules.length === 0) throw new Error('a price table needs at least one rule');
    this.#rules = rules;
    this.#fallback = dearest(rules);
  }

  priceOf(model: string | undefined): Price {
    if (model) for (const rule of this.#rules) if (rule.match.test(model)) return rule.price;
    return this.#fallback;
  }

  /** USD for one call of `model` that used `usage`. */
  cost(model: string | undefined, usage: CallUsage): number {
    const base = this.priceOf(model);
    const prompt = usage.input_tokens + usage.cache_creation_input_tokens + usage.cache_read_input_tokens;
    const p = base.longContext && prompt > base.longContext.aboveTokens ? base.longContext : base;
    const oneHour = Math.min(usage.cache_write_1h_tokens, usage.cache_creation_input_tokens);
    const perMillion =
      usage.input_tokens * p.input +
      usage.output_tokens * p.output +
      (usage.cache_creation_input_tokens - oneHour) * p.cacheWrite +
      oneHour * (p.cacheWrite1h ?? p.cacheWrite) +
      usage.cache_read_input_tokens * p.cacheRead;
    return perMillion / 1e6 + usage.web_search_requests * (base.webSearch ?? WEB_SEARCH);
  }
}
