/**
 * One task's account at the model proxy: what its token has used, and whether it may make another
 * call. Every call made with the task's token is metered here, Claude Code's own and any a script
 * run by the agent makes with the same token, so the task's limits hold and its reported usage is
 * what was actually spent.
 *
 * How many model calls Claude Code makes for `max_turns: N` (measured with Claude Code 2.1.332 and
 * the Agent SDK 0.3.332 against the scripted model, CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1):
 * - exactly one POST /v1/messages per turn, N at most: it stops before call N+1 (error_max_turns).
 *   A structured-output reminder ("[structured-output-enforce]") is a turn like any other. No
 *   count_tokens, title or quota call was seen.
 * - extra calls that are not turns: each WebSearch tool use runs one model call of its own (with the
 *   web_search server tool), WebFetch summarises a page with one, and auto-compaction sends one
 *   summarising call when the prompt nears the context window (seen at 990k prompt tokens).
 * So the proxy allows N calls plus one for each WebSearch / WebFetch tool use a response asked for,
 * plus one after each response whose prompt was large enough to be compacted; a call answered with
 * an error (the upstream's 4xx/5xx, which costs nothing) is not counted, and count_tokens never is.
 */
import type { CallUsage, PriceTable } from './pricing.ts';

export interface TaskLimits {
  /** The task's max_turns: model calls allowed, beyond the extra calls described above. */
  maxTurns?: number | undefined;
  /** The task's max_budget_usd: no call starts once this much is spent. */
  maxBudgetUsd?: number | undefined;
  /** The model the task asked for: prices a call whose response does not name its model. */
  model?: string | undefined;
}

/** What the proxy saw of one task's model calls. */
export interface MeteredUsage {
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens: number;
  cache_creation_input_tokens: number;
  cost_usd: number;
  /** Model calls forwarded upstream and answered with success (count_tokens not included). */
  calls: number;
  /** Why the proxy refused a call of this task, if it did. */
  refused?: 'max_turns' | 'budget';
}

export interface Refusal {
  status: number;
  type: string;
  message: string;
}

/** Tools whose every use makes a model call that Claude Code does not count as a turn. */
const MODEL_CALLING_TOOLS = new Set(['WebSearch', 'WebFetch']);
/** A response whose prompt reached this many tokens may be followed by a compaction call. */
const COMPACTION_PROMPT_TOKENS = 100_000;
/** Claude Code calls one at a time, a few at once for parallel WebSearch uses. */
const MAX_CONCURRENT_CALLS = 8;

/** The Messages API's usage object, as in message_start, message_delta and a JSON response. */
interface ApiUsage {
  input_tokens?: number | null;
  output_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
  cache_creation?: { ephemeral_1h_input_tokens?: number | null } | null;
  server_tool_use?: { web_search_requests?: number | null } | null;
}

function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

export class TaskMeter {
  readonly limits: TaskLimits;
  readonly #prices: PriceTable;
  readonly #total: MeteredUsage = {
    input_tokens: 0,
    output_tokens: 0,
    cache_read_input_tokens: 0,
    cache_creation_input_tokens: 0,
    cost_usd: 0,
    calls: 0,
  };
  /** Calls admitted and not yet answered: they count against the turn limit until they fail. */
  #pending = 0;
  /** Extra calls earned by tool uses and large prompts (see the header). */
  #extraCalls = 0;
  /** A successful call whose usage could not be read: its cost is unknown, so a budget is spent. */
  #unmetered = false;
  #inFlight = 0;

  constructor(limits: TaskLimits, prices: PriceTable) {
    this.limits = limits;
    this.#prices = prices;
  }

  usage(): MeteredUsage {
    return { ...this.#total };
  }

  /** A refusal when this call may not start; otherwise the call is admitted and must be ended. */
  admit(isModelCall: boolean): Refusal | undefined {
    if (this.#inFlight >= MAX_CONCURRENT_CALLS) {
      return {
        status: 429,
        type: 'rate_limit_error',
        message: `a task may make at most ${MAX_CONCURRENT_CALLS} model calls at once`,
      };
    }
    if (isModelCall) {
      const { maxBudgetUsd, maxTurns } = this.limits;
      if (maxBudgetUsd !== undefined && (this.#total.cost_usd >= maxBudgetUsd || this.#unmetered)) {
        this.#total.refused = 'budget';
        return {
          status: 400,
          type: 'invalid_request_error',
          message: `the task's budget of $${maxBudgetUsd} is spent ($${this.#total.cost_usd.toFixed(4)} used)`,
        };
      }
      if (maxTurns !== undefined && this.#total.calls + this.#pending >= maxTurns + this.#extraCalls) {
        this.#total.refused = 'max_turns';
        return {
          status: 400,
          type: 'invalid_request_error',
          message: `the task's limit of ${maxTurns} turns is reached`,
        };
      }
      this.#pending++;
    }
    this.#inFlight++;
    return undefined;
  }

  /** Meters one admitted call; `end()` it however it finishes. */
  call(isModelCall: boolean): CallMeter {
    return new CallMeter(this, this.#prices, isModelCall);
  }

  /** @internal from CallMeter */
  settle(isModelCall: boolean, succeeded: boolean, metered: boolean): void {
    this.#inFlight--;
    if (!isModelCall) return;
    this.#pending--;
    if (!succeeded) return;
    this.#total.calls++;
    if (!metered) this.#unmetered = true;
  }

  /** @internal from CallMeter */
  charge(delta: Omit<MeteredUsage, 'calls' | 'refused'>): void {
    const t = this.#total;
    t.input_tokens += delta.input_tokens;
    t.output_tokens += delta.output_tokens;
    t.cache_read_input_tokens += delta.cache_read_input_tokens;
    t.cache_creation_input_tokens += delta.cache_creation_input_tokens;
    t.cost_usd += delta.cost_usd;
  }

  /** @internal from CallMeter */
  allowExtraCall(): void {
    this.#extraCalls++;
  }
}

/**
 * One call's usage as its response reports it. The API's counts are cumulative (message_delta
 * repeats and raises message_start's), so each report replaces the last and the task is charged
 * the difference: the budget sees a long call's cost while it streams.
 */
export class CallMeter {
  readonly #task: TaskMeter;
  readonly #prices: PriceTable;
  readonly #isModelCall: boolean;
  #model: string | undefined;
  #usage: CallUsage = {
    input_tokens: 0,
    output_tokens: 0,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    cache_write_1h_tokens: 0,
    web_search_requests: 0,
  };
  #cost = 0;
  #succeeded = false;
  #metered = false;
  #ended = false;

  constructor(task: TaskMeter, prices: PriceTable, isModelCall: boolean) {
    this.#task = task;
    this.#prices = prices;
    this.#isModelCall = isModelCall;
    this.#model = task.limits.model;
  }

  /** The upstream answered with this status. */
  status(code: number): void {
    this.#succeeded = code >= 200 && code < 300;
  }

  model(name: unknown): void {
    if (typeof name === 'string' && name) this.#model = name;
  }

  report(raw: unknown): void {
    if (raw === null || typeof raw !== 'object' || this.#ended) return;
    const u = raw as ApiUsage;
    const next: CallUsage = {
      input_tokens: count(u.input_tokens) ?? this.#usage.input_tokens,
      output_tokens: count(u.output_tokens) ?? this.#usage.output_tokens,
      cache_creation_input_tokens: count(u.cache_creation_input_tokens) ?? this.#usage.cache_creation_input_tokens,
      cache_read_input_tokens: count(u.cache_read_input_tokens) ?? this.#usage.cache_read_input_tokens,
      cache_write_1h_tokens: count(u.cache_creation?.ephemeral_1h_input_tokens) ?? this.#usage.cache_write_1h_tokens,
      web_search_requests: count(u.server_tool_use?.web_search_requests) ?? this.#usage.web_search_requests,
    };
    const cost = this.#prices.cost(this.#model, next);
    const prev = this.#usage;
    this.#task.charge({
      input_tokens: next.input_tokens - prev.input_tokens,
      output_tokens: next.output_tokens - prev.output_tokens,
      cache_creation_input_tokens: next.cache_creation_input_tokens - prev.cache_creation_input_tokens,
      cache_read_input_tokens: next.cache_read_input_tokens - prev.cache_read_input_tokens,
      cost_usd: cost - this.#cost,
    });
    this.#usage = next;
    this.#cost = cost;
    this.#metered = true;
  }

  /** The response asked for a tool; a model-calling one earns its call. */
  toolUse(name: unknown): void {
    if (typeof name === 'string' && MODEL_CALLING_TOOLS.has(name)) this.#task.allowExtraCall();
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    const u = this.#usage;
    const prompt = u.input_tokens + u.cache_creation_input_tokens + u.cache_read_input_tokens;
    if (this.#isModelCall && this.#succeeded && prompt >= COMPACTION_PROMPT_TOKENS) this.#task.allowExtraCall();
    this.#task.settle(this.#isModelCall, this.#succeeded, this.#metered);
  }
}
