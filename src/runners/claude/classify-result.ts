/**
 * Turns the SDK's final result message into our envelope or a typed failure. A result whose model
 * call failed is never "completed": the SDK marks it with is_error, api_error_status and
 * terminal_reason, and each maps to one kind of the failure vocabulary.
 *
 * Usage and cost are the model proxy's figures when it metered the task: they count every call made
 * with the task's token, a script's included, where the SDK's count only Claude Code's own. The
 * SDK's figures are kept in `detail` beside them, and stand alone when no proxy saw the task.
 */
import type { SDKResultMessage } from '@anthropic-ai/claude-agent-sdk';
import type { Usage } from '../../domain/usage.ts';
import type { ErrorKind } from '../../errors.ts';
import type { MeteredUsage } from '../../model/model-proxy.ts';
import { type OutputEnvelope, RunnerError } from '../runner.ts';

function apiErrorKind(status: number | null | undefined, text: string): ErrorKind {
  if (status === 429 || status === 402) {
    return /credit|quota|billing|usage limit|spend/i.test(text) ? 'quota' : 'overloaded';
  }
  if (status === 529 || status === 503) return 'overloaded';
  return 'model_error';
}

/** The proxy's figures as the envelope's usage. */
export function meteredUsage(metered: MeteredUsage): Usage {
  return {
    input_tokens: metered.input_tokens,
    output_tokens: metered.output_tokens,
    cache_read_input_tokens: metered.cache_read_input_tokens,
    cache_creation_input_tokens: metered.cache_creation_input_tokens,
    cost_usd: metered.cost_usd,
  };
}

/**
 * The article's "Empty response" row: a session that ends successfully with no text and no structured
 * output did not do its job, so it fails `empty_response` (retryable) unless the caller allows it.
 */
export const EMPTY_RESPONSE_MESSAGE =
  'Claude Code finished without a response: check that the prompt is clear and that allowed_tools ' +
  'grants what the task needs';

export function classifyResult(
  result: SDKResultMessage,
  filesChanged: string[],
  metered?: MeteredUsage,
  options: { allowEmpty?: boolean | undefined } = {},
): OutputEnvelope {
  const usage = result.usage as unknown as Record<string, number | undefined>;
  const sdkUsage: Usage = {
    input_tokens: usage.input_tokens ?? 0,
    output_tokens: usage.output_tokens ?? 0,
    cache_read_input_tokens: usage.cache_read_input_tokens ?? 0,
    cache_creation_input_tokens: usage.cache_creation_input_tokens ?? 0,
    cost_usd: result.total_cost_usd,
  };
  const byProxy = metered !== undefined && metered.calls > 0;
  const envelope: OutputEnvelope = {
    response: result.subtype === 'success' ? result.result : '',
    usage: byProxy ? meteredUsage(metered) : sdkUsage,
    detail: {
      agent_session_id: result.session_id,
      num_turns: result.num_turns,
      duration_ms: result.duration_ms,
      duration_api_ms: result.duration_api_ms,
      total_cost_usd: byProxy ? metered.cost_usd : result.total_cost_usd,
      ...(byProxy ? { model_calls: metered.calls, sdk_usage: sdkUsage } : {}),
      model_usage: result.modelUsage,
      permission_denials: result.permission_denials,
      files_changed: filesChanged,
      stop_reason: result.stop_reason,
      terminal_reason: result.terminal_reason ?? null,
    },
  };
  if (result.subtype === 'success' && !result.is_error) {
    if (result.structured_output !== undefined) envelope.data = result.structured_output;
    if (envelope.data === undefined && envelope.response.trim() === '' && !options.allowEmpty) {
      throw new RunnerError('empty_response', EMPTY_RESPONSE_MESSAGE, envelope);
    }
    return envelope;
  }
  const text = result.subtype === 'success' ? result.result : (result.errors ?? []).join('; ');
  let kind: ErrorKind;
  switch (result.subtype) {
    case 'error_max_turns':
      kind = 'max_turns';
      break;
    case 'error_max_budget_usd':
      kind = 'budget';
      break;
    case 'error_max_structured_output_retries':
      kind = 'output_invalid';
      break;
    case 'success':
      // A call the model proxy refused ends the task for the limit it hit, not as a model error.
      kind = metered?.refused ?? apiErrorKind(result.api_error_status, text);
      break;
    default:
      kind = result.terminal_reason === 'max_turns' ? 'max_turns' : (metered?.refused ?? 'model_error');
  }
  // The envelope (turns, cost, denials) still goes on the task record and into the step's usage.
  throw new RunnerError(kind, text || `Claude Code ended with ${result.subtype}`, envelope);
}
