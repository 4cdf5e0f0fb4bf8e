/** classifyResult's empty-response rule: empty or blank text fails, structured output or allow_empty passes. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SDKResultMessage } from '@anthropic-ai/claude-agent-sdk';
import { classifyResult } from '../../src/runners/claude/classify-result.ts';
import { RunnerError } from '../../src/runners/runner.ts';

function success(result: string, structured?: unknown): SDKResultMessage {
  return {
    type: 'result',
    subtype: 'success',
    is_error: false,
    result,
    session_id: 's',
    num_turns: 1,
    duration_ms: 1,
    duration_api_ms: 1,
    total_cost_usd: 0,
    usage: { input_tokens: 1, output_tokens: 1 },
    modelUsage: {},
    permission_denials: [],
    ...(structured === undefined ? {} : { structured_output: structured }),
  } as unknown as SDKResultMessage;
}

test('an empty or blank response fails empty_response, carrying the envelope', () => {
  for (const text of ['', '   ', '\n\t\u00a0']) {
    assert.throws(
      () => classifyResult(success(text), []),
      (err: unknown) =>
        err instanceof RunnerError && err.kind === 'empty_response' && err.retryable && err.envelope.response === text,
    );
  }
});

test('structured output, allow_empty or any text completes', () => {
  assert.deepEqual(classifyResult(success('', { ok: true }), []).data, { ok: true });
  assert.equal(classifyResult(success(' ', undefined), [], undefined, { allowEmpty: true }).response, ' ');
  assert.equal(classifyResult(success('.'), []).response, '.');
});
