/**
 * The llm worker's defaults, read from the environment once, with the rest of the configuration
 * (config.ts): which provider and endpoint a step without its own gets, and which keys it may name.
 * Kept apart from the worker so reading the configuration does not load the AI SDK.
 */
import { validationError } from './errors.ts';

export type LlmProvider = 'anthropic' | 'openai-compatible';

export interface LlmDefaults {
  provider: LlmProvider;
  /** Endpoint of the default provider. */
  base_url?: string;
  /** Model of the default provider. */
  model?: string;
  anthropicApiKey?: string;
  /** ANTHROPIC_BASE_URL, used when a step picks Anthropic while the default provider is another. */
  anthropicBaseUrl?: string;
  openaiApiKey?: string;
  /**
   * The `*_API_KEY` variables a step may name in `api_key_env` (all but the default keys); nothing
   * else from the environment.
   */
  keys?: Record<string, string>;
}

export const KEY_ENV = /^[A-Z][A-Z0-9_]*_API_KEY$/;
const DEFAULT_KEY_ENVS = new Set(['ANTHROPIC_API_KEY', 'SWITCHYARD_LLM_API_KEY']);

/**
 * Reads the llm defaults from the environment: SWITCHYARD_LLM_PROVIDER (default `anthropic`, or
 * `openai-compatible` when only SWITCHYARD_LLM_BASE_URL is set), SWITCHYARD_LLM_BASE_URL, SWITCHYARD_LLM_MODEL,
 * SWITCHYARD_LLM_API_KEY (the default endpoint's key), ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL.
 */
export function llmDefaultsFromEnv(env: Record<string, string | undefined>): LlmDefaults {
  const chosen = env.SWITCHYARD_LLM_PROVIDER || (env.SWITCHYARD_LLM_BASE_URL ? 'openai-compatible' : 'anthropic');
  if (chosen !== 'anthropic' && chosen !== 'openai-compatible') {
    throw validationError('SWITCHYARD_LLM_PROVIDER', 'must be "anthropic" or "openai-compatible"');
  }
  const provider: LlmProvider = chosen;
  const keys: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    // The default keys are not offered: a step could send them to a base_url of its choosing.
    if (KEY_ENV.test(name) && !DEFAULT_KEY_ENVS.has(name) && value) keys[name] = value;
  }
  const defaults: LlmDefaults = { provider, keys };
  const baseUrl = env.SWITCHYARD_LLM_BASE_URL || (provider === 'anthropic' ? env.ANTHROPIC_BASE_URL : undefined);
  if (baseUrl) defaults.base_url = checkUrl(baseUrl, 'SWITCHYARD_LLM_BASE_URL');
  if (env.SWITCHYARD_LLM_MODEL) defaults.model = env.SWITCHYARD_LLM_MODEL;
  if (env.ANTHROPIC_BASE_URL) defaults.anthropicBaseUrl = checkUrl(env.ANTHROPIC_BASE_URL, 'ANTHROPIC_BASE_URL');
  const anthropicKey = (provider === 'anthropic' ? env.SWITCHYARD_LLM_API_KEY : undefined) || env.ANTHROPIC_API_KEY;
  if (anthropicKey) defaults.anthropicApiKey = anthropicKey;
  if (provider === 'openai-compatible' && env.SWITCHYARD_LLM_API_KEY)
    defaults.openaiApiKey = env.SWITCHYARD_LLM_API_KEY;
  return defaults;
}

/** An absolute http(s) URL, or a validation error naming `field`. */
export function checkUrl(url: string, field: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw validationError(field, 'must be an absolute http:// or https:// URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw validationError(field, 'must use http or https');
  return url;
}
