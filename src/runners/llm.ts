/**
 * The `llm` worker: one prompt to a model through the Vercel AI SDK, either Anthropic or any
 * OpenAI-compatible server (Ollama, vLLM, llama.cpp), with optional JSON output checked against a schema.
 *
 * Structured output is asked for in the instructions and checked here with ajv rather than through the
 * SDK's `Output.object`: local servers differ in which `response_format` they honour, and owning the
 * check is what lets us re-ask once with the exact validation errors.
 */
import { createAnthropic } from '@ai-sdk/anthropic';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { AISDKError, APICallError, generateText, type LanguageModel, type ModelMessage } from 'ai';
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import { AppError, validationError } from '../errors.ts';
import { checkUrl, KEY_ENV, type LlmDefaults, type LlmProvider } from '../llm-defaults.ts';

export type { LlmDefaults, LlmProvider } from '../llm-defaults.ts';
export { llmDefaultsFromEnv } from '../llm-defaults.ts';

import { addUsage, emptyUsage, type Usage } from '../domain/usage.ts';
import { compileUserSchema } from '../schema/ajv.ts';
import { MatchBudgetError } from '../schema/linear-regex.ts';
import { abortReasonError, type OutputEnvelope, type RunContext, RunnerError } from './runner.ts';
import { type AllowList, emptyAllowList, guardedFetch, type ResolveAll } from './ssrf.ts';

export interface LlmStepInput {
  prompt: string;
  system?: string;
  provider?: LlmProvider;
  /** Anthropic: the server root as in ANTHROPIC_BASE_URL (`/v1` is added). OpenAI-compatible: the `/v1` root. */
  base_url?: string;
  model?: string;
  /** Name of an environment variable ending in `_API_KEY` that holds the key for this step. */
  api_key_env?: string;
  /** The key itself (a workflow's rendered `{{ secrets.NAME }}`): wins over api_key_env and the defaults. */
  api_key?: string;
  /** A JSON Schema (2020-12): the reply must be JSON that validates against it. */
  output_schema?: object;
  temperature?: number;
  max_tokens?: number;
  /** Milliseconds for the whole step, repair included; default 600 000. */
  timeout?: number;
}

const ANTHROPIC_API = 'https://api.anthropic.com';
const DEFAULT_TIMEOUT_MS = 600_000;

interface Target {
  provider: LlmProvider;
  baseUrl: string;
  model: string;
  apiKey: string | undefined;
  /** The step chose the endpoint (not the operator's): it goes through the SSRF guard. */
  chosen: boolean;
}

export interface LlmRunnerOptions {
  /** `SWITCHYARD_HTTP_ALLOW`: what a step's own `base_url` may reach besides public addresses. */
  allow?: AllowList;
  /** Name resolution for the guard; defaults to the system resolver. */
  resolveAll?: ResolveAll;
}

/**
 * Runs one `llm` step.
 *
 * @example await runLlm({ prompt: 'Summarise: …', output_schema: { type: 'object' } }, ctx, llmDefaultsFromEnv(process.env))
 */
export async function runLlm(
  input: LlmStepInput,
  ctx: RunContext,
  defaults: LlmDefaults,
  options: LlmRunnerOptions = {},
): Promise<OutputEnvelope> {
  if (typeof input.prompt !== 'string' || input.prompt === '')
    throw validationError('prompt', 'must be a non-empty string');
  const timeout = input.timeout ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isInteger(timeout) || timeout < 1 || timeout > 86_400_000) {
    throw validationError('timeout', 'must be an integer between 1 and 86400000 (ms)');
  }
  if (input.max_tokens !== undefined && (!Number.isInteger(input.max_tokens) || input.max_tokens < 1)) {
    throw validationError('max_tokens', 'must be a positive integer');
  }
  if (input.temperature !== undefined && (typeof input.temperature !== 'number' || input.temperature < 0)) {
    throw validationError('temperature', 'must be a number of at least 0');
  }
  const validate = input.output_schema === undefined ? undefined : compileSchema(input.output_schema);
  const target = resolveTarget(input, defaults);
  // A base_url the step picked is an outbound request on the author's behalf, like an http step's.
  const fetch = target.chosen ? guardedFetch(options.allow ?? emptyAllowList(), options.resolveAll) : undefined;
  const model = createModel(target, fetch);
  const timer = new AbortController();
  const timeoutId = setTimeout(() => timer.abort(), timeout);
  const signal = AbortSignal.any([ctx.signal, timer.signal]);
  const shownUrl = new URL(target.baseUrl);
  shownUrl.username = '';
  shownUrl.password = '';
  const detail: Record<string, unknown> = { provider: target.provider, model: target.model, base_url: shownUrl.href };
  let usage = emptyUsage();

  const call = async (messages: ModelMessage[]) => {
    const result = await generateText({
      model,
      instructions: validate ? withSchema(input.system, input.output_schema!) : input.system,
      messages,
      temperature: input.temperature,
      maxOutputTokens: input.max_tokens,
      maxRetries: 0, // the engine owns retries and backoff
      abortSignal: signal,
    });
    usage = addUsage(usage, toUsage(result.totalUsage));
    detail.finish_reason = result.finishReason;
    detail.requests = ((detail.requests as number | undefined) ?? 0) + 1;
    return result.text;
  };

  try {
    const messages: ModelMessage[] = [{ role: 'user', content: input.prompt }];
    const text = await call(messages);
    if (!validate) return { response: text, usage, detail };
    let checked = check(text, validate);
    if (!checked.ok) {
      ctx.emit({ type: 'llm.repair', data: { errors: checked.errors } });
      messages.push({ role: 'assistant', content: text }, { role: 'user', content: repairPrompt(checked.errors) });
      checked = check(await call(messages), validate);
      detail.repaired = true;
    }
    if (!checked.ok) {
      throw new AppError(
        'output_invalid',
        `the model's reply did not match output_schema after one repair: ${checked.errors}`,
      );
    }
    return { response: JSON.stringify(checked.value), data: checked.value, usage, detail };
  } catch (err) {
    let error: AppError;
    if (ctx.signal.aborted) error = abortReasonError(ctx.signal, `the ${target.provider} call`);
    else if (timer.signal.aborted)
      error = new AppError('timeout', `the ${target.provider} call did not finish within ${timeout} ms`);
    else error = toAppError(err, target);
    // Calls that returned were paid for, whatever happened after them: the error carries their usage.
    throw detail.requests === undefined ? error : RunnerError.carrying(error, { response: '', usage, detail });
  } finally {
    clearTimeout(timeoutId);
  }
}

function resolveTarget(input: LlmStepInput, defaults: LlmDefaults): Target {
  const provider = input.provider ?? defaults.provider;
  if (provider !== 'anthropic' && provider !== 'openai-compatible') {
    throw validationError('provider', 'must be "anthropic" or "openai-compatible"');
  }
  const isDefault = provider === defaults.provider;
  const configured =
    (isDefault ? defaults.base_url : undefined) ??
    (provider === 'anthropic' ? (defaults.anthropicBaseUrl ?? ANTHROPIC_API) : undefined);
  const given = input.base_url ?? configured;
  if (!given) {
    throw validationError(
      'base_url',
      'is required for provider openai-compatible (on the step or SWITCHYARD_LLM_BASE_URL)',
    );
  }
  const baseUrl = normalizeBaseUrl(provider, checkUrl(given, 'base_url'));
  const model = input.model ?? (isDefault ? defaults.model : undefined);
  if (!model) throw validationError('model', 'is required (on the step or SWITCHYARD_LLM_MODEL)');
  const chosen = configured === undefined || baseUrl !== normalizeBaseUrl(provider, configured);
  let apiKey: string | undefined;
  if (input.api_key !== undefined) {
    // Never echoed: it is a secret.
    if (typeof input.api_key !== 'string' || input.api_key.trim() === '') {
      throw validationError('api_key', 'rendered empty: check the secret it names');
    }
    apiKey = input.api_key;
  } else if (input.api_key_env !== undefined) {
    if (!KEY_ENV.test(input.api_key_env)) {
      throw validationError('api_key_env', 'must name an environment variable ending in _API_KEY');
    }
    apiKey = defaults.keys?.[input.api_key_env];
    if (!apiKey) {
      throw validationError(
        'api_key_env',
        `names ${input.api_key_env}, which is not set or not offered to steps (the default keys go to the configured endpoint by themselves)`,
      );
    }
  } else if (!chosen) {
    // The operator's key goes only to the operator's endpoint, never to a URL a workflow picked.
    apiKey = provider === 'anthropic' ? defaults.anthropicApiKey : defaults.openaiApiKey;
  }
  if (provider === 'anthropic' && !apiKey && baseUrl === `${ANTHROPIC_API}/v1`) {
    throw validationError('api_key_env', 'is needed: no Anthropic API key is set (ANTHROPIC_API_KEY)');
  }
  return { provider, baseUrl, model, apiKey, chosen };
}

/**
 * Anthropic URLs follow Claude Code's ANTHROPIC_BASE_URL (the server root) and OpenAI-compatible
 * servers are commonly given without `/v1`; the SDKs want the versioned root.
 */
function normalizeBaseUrl(provider: LlmProvider, url: string): string {
  // A loop, not /\/+$/: that regex is quadratic on a long run of slashes followed by something else.
  let end = url.length;
  while (end > 0 && url[end - 1] === '/') end--;
  const trimmed = url.slice(0, end);
  if (provider === 'anthropic') return trimmed.endsWith('/v1') ? trimmed : `${trimmed}/v1`;
  return new URL(trimmed).pathname === '/' ? `${trimmed}/v1` : trimmed;
}

function createModel(target: Target, fetch: typeof globalThis.fetch | undefined): LanguageModel {
  const custom = fetch ? { fetch } : {};
  if (target.provider === 'anthropic') {
    // An explicit key (even empty) stops the SDK falling back to process.env.
    return createAnthropic({ baseURL: target.baseUrl, apiKey: target.apiKey ?? '', ...custom })(target.model);
  }
  return createOpenAICompatible({ name: 'switchyard', baseURL: target.baseUrl, apiKey: target.apiKey, ...custom })(
    target.model,
  );
}

function compileSchema(schema: object): ValidateFunction {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
    throw validationError('output_schema', 'must be a JSON Schema object');
  }
  // Formats are not checked (no ajv-formats): unknown keywords and formats must not fail a user's schema.
  try {
    return compileUserSchema(schema, { allErrors: true, strict: false, validateFormats: false });
  } catch (err) {
    throw new AppError('validation', `output_schema is not a valid JSON Schema: ${(err as Error).message}`, {
      field: 'output_schema',
      cause: err,
    });
  }
}

function withSchema(system: string | undefined, schema: object): string {
  const rule =
    'Reply with one JSON value that validates against this JSON Schema, and nothing else: ' +
    `no prose, no code fences.\n${JSON.stringify(schema)}`;
  return system ? `${system}\n\n${rule}` : rule;
}

function repairPrompt(errors: string): string {
  return `Your reply was not valid: ${errors}\nReply again with only the corrected JSON value.`;
}

type Checked = { ok: true; value: unknown } | { ok: false; errors: string };

function check(text: string, validate: ValidateFunction): Checked {
  const value = parseJsonReply(text);
  if (value === undefined) return { ok: false, errors: 'it is not JSON.' };
  try {
    if (validate(value)) return { ok: true, value };
  } catch (err) {
    if (err instanceof MatchBudgetError) return { ok: false, errors: `${err.message}.` };
    throw err;
  }
  return { ok: false, errors: describeErrors(validate.errors ?? []) };
}

/**
 * The text of the first ``` fence (a `json` tag dropped), found with indexOf: the regex it replaces,
 * /```(?:json)?\s*([\s\S]*?)```/, is quadratic on a reply of "```" and a long run of spaces.
 */
function fencedBlock(text: string): string | undefined {
  const open = text.indexOf('```');
  if (open < 0) return undefined;
  let start = open + 3;
  if (text.startsWith('json', start)) start += 4;
  const close = text.indexOf('```', start);
  return close < 0 ? undefined : text.slice(start, close);
}

/** Models wrap JSON in fences or a sentence despite instructions; take the outermost JSON value. */
function parseJsonReply(text: string): unknown {
  const candidates = [text.trim(), fencedBlock(text)?.trim()];
  const start = text.search(/[{[]/);
  const end = Math.max(text.lastIndexOf('}'), text.lastIndexOf(']'));
  if (start >= 0 && end > start) candidates.push(text.slice(start, end + 1));
  for (const candidate of candidates) {
    if (!candidate) continue;
    try {
      return JSON.parse(candidate);
    } catch {}
  }
  return undefined;
}

function describeErrors(errors: ErrorObject[]): string {
  return errors
    .slice(0, 20)
    .map((e) => {
      const extra = e.keyword === 'additionalProperties' ? ` (${String(e.params.additionalProperty)})` : '';
      return `${e.instancePath || '/'} ${e.message ?? e.keyword}${extra}`;
    })
    .join('; ');
}

function toUsage(usage: {
  inputTokens: number | undefined;
  outputTokens: number | undefined;
  inputTokenDetails?: { cacheReadTokens: number | undefined; cacheWriteTokens: number | undefined };
}): Usage {
  const out: Usage = { input_tokens: usage.inputTokens ?? 0, output_tokens: usage.outputTokens ?? 0, cost_usd: 0 };
  const details = usage.inputTokenDetails;
  if (details?.cacheReadTokens) out.cache_read_input_tokens = details.cacheReadTokens;
  if (details?.cacheWriteTokens) out.cache_creation_input_tokens = details.cacheWriteTokens;
  return out;
}

function toAppError(err: unknown, target: Target): AppError {
  if (err instanceof AppError) return err;
  const who = `${target.provider} model server at ${new URL(target.baseUrl).origin}`;
  const scrub = (text: string) => (target.apiKey ? text.split(target.apiKey).join('[redacted]') : text);
  if (APICallError.isInstance(err)) {
    const status = err.statusCode;
    const said = scrub(err.message).slice(0, 300);
    if (status === undefined) return new AppError('network', `could not reach the ${who}: ${said}`, { cause: err });
    const message = `the ${who} answered ${status}: ${said}`;
    if (status === 429) {
      const quota = /credit|quota|billing|insufficient/i.test(err.responseBody ?? '');
      return new AppError(quota ? 'quota' : 'overloaded', message, { cause: err });
    }
    if (status === 529 || status === 503) return new AppError('overloaded', message, { cause: err });
    if (status === 401 || status === 403) {
      return new AppError(
        'model_error',
        `the ${who} rejected the API key (${status}); check api_key_env or the configured key`,
        {
          cause: err,
        },
      );
    }
    // 400, 404, 422 …: the request itself is wrong (unknown model, bad parameter); retrying cannot help.
    if (status < 500) return new AppError('validation', message, { cause: err });
    return new AppError('model_error', message, { cause: err });
  }
  if (AISDKError.isInstance(err))
    return new AppError('model_error', `the ${who} failed: ${scrub(err.message)}`, { cause: err });
  return new AppError('internal', `the llm step failed: ${scrub(err instanceof Error ? err.message : String(err))}`, {
    cause: err,
  });
}
