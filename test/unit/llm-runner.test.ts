/** The llm worker against the stand-in local LLM server (test/fixtures/llm-server.ts) on 127.0.0.1. */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { AppError, type ErrorKind } from '../../src/errors.ts';
import {
  type LlmDefaults,
  type LlmRunnerOptions,
  type LlmStepInput,
  llmDefaultsFromEnv,
  runLlm,
} from '../../src/runners/llm.ts';
import { type RunContext, RunnerError } from '../../src/runners/runner.ts';
import { parseAllowList } from '../../src/runners/ssrf.ts';
import { type LlmServer, startLlmServer } from '../fixtures/llm-server.ts';

const KEY = 'sk-test-0123456789';
const ctx = (signal = new AbortController().signal): RunContext => ({ signal, emit: () => {} });

let llm: LlmServer;
let openai: LlmDefaults;
let anthropic: LlmDefaults;
beforeEach(async () => {
  llm = await startLlmServer();
  openai = { provider: 'openai-compatible', base_url: `${llm.url}/v1`, model: 'test-model', openaiApiKey: KEY };
  anthropic = { provider: 'anthropic', base_url: llm.url, model: 'claude-test', anthropicApiKey: KEY };
});
afterEach(() => llm.close());

/** What the operator admits for step-chosen endpoints in these tests: the stand-in server. */
const loopback = { allow: parseAllowList('127.0.0.1,localhost') };

async function failsWith(
  input: LlmStepInput,
  defaults: LlmDefaults,
  kind: ErrorKind,
  context = ctx(),
  options: LlmRunnerOptions = loopback,
): Promise<AppError> {
  let caught: unknown;
  await runLlm(input, context, defaults, options).catch((err: unknown) => {
    caught = err;
  });
  assert.ok(caught instanceof AppError, `expected an AppError, got ${String(caught)}`);
  assert.equal(caught.kind, kind, caught.message);
  assert.ok(!caught.message.includes(KEY), 'the API key must never appear in a message');
  return caught;
}

describe('plain text', () => {
  test('openai-compatible', async () => {
    llm.reply({ text: 'Hello there', usage: { input_tokens: 12, output_tokens: 3 } });
    const out = await runLlm(
      { prompt: 'Say hello', system: 'Be brief', temperature: 0, max_tokens: 50 },
      ctx(),
      openai,
    );
    assert.equal(out.response, 'Hello there');
    assert.deepEqual(out.usage, {
      input_tokens: 12,
      output_tokens: 3,
      cache_read_input_tokens: 0,
      cache_creation_input_tokens: 0,
      cost_usd: 0,
    });
    assert.equal(out.detail?.model, 'test-model');
    assert.equal(JSON.stringify(out.detail).includes(KEY), false);
    const [req] = llm.requests;
    assert.equal(req?.path, '/v1/chat/completions');
    assert.equal(req?.headers.authorization, `Bearer ${KEY}`);
    assert.equal(req?.body.model, 'test-model');
    assert.equal(req?.body.temperature, 0);
    assert.equal(req?.body.max_tokens, 50);
    assert.deepEqual(req?.body.messages, [
      { role: 'system', content: 'Be brief' },
      { role: 'user', content: 'Say hello' },
    ]);
    assert.ok(req && req.endedAt !== undefined && req.endedAt >= req.startedAt);
  });

  test('anthropic, with the base URL written as Claude Code takes it (no /v1)', async () => {
    llm.reply({ text: 'Bonjour' });
    const out = await runLlm({ prompt: 'Say hello', system: 'In French' }, ctx(), anthropic);
    assert.equal(out.response, 'Bonjour');
    assert.equal(out.usage?.input_tokens, 10);
    const [req] = llm.requests;
    assert.equal(req?.path, '/v1/messages');
    assert.equal(req?.headers['x-api-key'], KEY);
    assert.equal(req?.body.model, 'claude-test');
    assert.deepEqual(req?.body.messages, [{ role: 'user', content: [{ type: 'text', text: 'Say hello' }] }]);
  });

  test("the operator's key is not sent to a base_url the step chose; api_key_env supplies one", async () => {
    llm.reply({ text: 'a' }, { text: 'b' });
    // The same server under another name is another endpoint as far as the key is concerned.
    await runLlm({ prompt: 'x', base_url: `http://localhost:${new URL(llm.url).port}/v1` }, ctx(), openai, loopback);
    assert.equal(llm.requests[0]?.headers.authorization, undefined);
    const withKeys = { ...openai, base_url: undefined, keys: { OTHER_API_KEY: 'other-key' } };
    await runLlm({ prompt: 'x', base_url: llm.url, api_key_env: 'OTHER_API_KEY' }, ctx(), withKeys, loopback);
    assert.equal(llm.requests[1]?.headers.authorization, 'Bearer other-key');
    assert.equal(llm.requests[1]?.path, '/v1/chat/completions', 'a root URL gets /v1');
    const err = await failsWith(
      { prompt: 'x', base_url: llm.url, api_key_env: 'DATABASE_URL' },
      withKeys,
      'validation',
    );
    assert.equal(err.field, 'api_key_env');
    await failsWith({ prompt: 'x', base_url: llm.url, api_key_env: 'MISSING_API_KEY' }, withKeys, 'validation');
  });
});

describe('SSRF guard on a base_url the step chose', () => {
  test('a loopback or internal endpoint is refused unless the operator allows it; theirs is trusted', async () => {
    llm.reply({ text: 'allowed' }, { text: 'configured' });
    const stepUrl = { prompt: 'x', base_url: `${llm.url}/v1` };
    const refused = await failsWith(stepUrl, { ...openai, base_url: undefined }, 'permission_denied', ctx(), {
      allow: parseAllowList(''),
    });
    assert.match(refused.message, /127\.0\.0\.1 is a loopback address/);
    assert.equal(llm.requests.length, 0, 'nothing reached the endpoint');
    // A name that resolves to a public and an internal address is refused too (no request is made).
    const mixed = async () => [
      { address: '93.184.215.14', family: 4 },
      { address: '169.254.169.254', family: 4 },
    ];
    const err = await failsWith(
      { prompt: 'x', base_url: 'http://models.example.test/v1' },
      openai,
      'permission_denied',
      ctx(),
      {
        allow: parseAllowList(''),
        resolveAll: mixed,
      } as typeof loopback,
    );
    assert.match(err.message, /169\.254\.169\.254, which is link-local/);
    // Allowed by the operator: the guarded request works like any other.
    assert.equal((await runLlm(stepUrl, ctx(), { ...openai, base_url: undefined }, loopback)).response, 'allowed');
    // The operator's configured endpoint needs no allow-list entry.
    assert.equal((await runLlm({ prompt: 'x' }, ctx(), openai, { allow: parseAllowList('') })).response, 'configured');
    assert.equal(llm.requests.length, 2);
  });

  test('through the guard, a refused connection is network and an abort is cancelled', async () => {
    const url = llm.url;
    await llm.close();
    llm = await startLlmServer();
    await failsWith({ prompt: 'x', base_url: url }, openai, 'network');
    llm.reply({ hang: true });
    const controller = new AbortController();
    const pending = failsWith({ prompt: 'x', base_url: llm.url }, openai, 'cancelled', ctx(controller.signal));
    await llm.waitForRequests(1);
    controller.abort();
    await pending;
  });
});

describe('output_schema', () => {
  const schema = {
    type: 'object',
    properties: { name: { type: 'string' }, age: { type: 'integer' } },
    required: ['name', 'age'],
    additionalProperties: false,
  };

  test('valid the first time', async () => {
    llm.reply({ text: '```json\n{"name":"Ada","age":36}\n```' });
    const out = await runLlm({ prompt: 'Who?', output_schema: schema }, ctx(), openai);
    assert.deepEqual(out.data, { name: 'Ada', age: 36 });
    assert.equal(out.response, '{"name":"Ada","age":36}');
    assert.equal(llm.requests.length, 1);
    assert.match(llm.requests[0]?.body.messages[0].content, /JSON Schema[\s\S]*"required":\["name","age"\]/);
  });

  test('invalid, then repaired with the validation errors', async () => {
    llm.reply({ text: '{"name":"Ada","age":"thirty-six"}' }, { text: '{"name":"Ada","age":36}' });
    const out = await runLlm({ prompt: 'Who?', output_schema: schema }, ctx(), anthropic);
    assert.deepEqual(out.data, { name: 'Ada', age: 36 });
    assert.equal(out.detail?.repaired, true);
    assert.equal(out.usage?.input_tokens, 20, 'usage sums both calls');
    assert.equal(llm.requests.length, 2);
    const messages = llm.requests[1]?.body.messages;
    assert.equal(messages.length, 3);
    assert.equal(messages[1].role, 'assistant');
    assert.match(messages[1].content[0].text, /thirty-six/);
    assert.match(messages[2].content[0].text, /\/age must be integer/);
  });

  test('invalid twice is output_invalid', async () => {
    llm.reply({ text: 'Sure! Here you go.' }, { text: '{"name":"Ada","age":36,"extra":true}' });
    const err = await failsWith({ prompt: 'Who?', output_schema: schema }, openai, 'output_invalid');
    assert.match(err.message, /must NOT have additional properties \(extra\)/);
    assert.match(llm.requests[1]?.body.messages.at(-1).content, /it is not JSON/);
    // Both calls were paid for: the failure carries their usage (10 + 5 tokens each).
    assert.ok(err instanceof RunnerError);
    assert.deepEqual([err.envelope.usage?.input_tokens, err.envelope.usage?.output_tokens], [20, 10]);
  });

  test('a failed repair call still carries the usage of the first call', async () => {
    llm.reply({ text: 'not json', usage: { input_tokens: 7, output_tokens: 2 } }, { status: 503, error: 'busy' });
    const err = await failsWith({ prompt: 'Who?', output_schema: schema }, openai, 'overloaded');
    assert.ok(err instanceof RunnerError);
    assert.deepEqual([err.envelope.usage?.input_tokens, err.envelope.usage?.output_tokens], [7, 2]);
  });

  // `^(a+)+$` backtracks exponentially in JavaScript's RegExp: against 40 a's and a "!" a native
  // validator would not return for hours, holding the event loop. RE2 answers in one pass.
  test('a backtracking pattern against a crafted reply fails as output_invalid; a matching reply passes', async () => {
    const patterned = { type: 'object', properties: { v: { type: 'string', pattern: '^(a+)+$' } }, required: ['v'] };
    const crafted = JSON.stringify({ v: `${'a'.repeat(5000)}!` });
    llm.reply({ text: crafted }, { text: crafted });
    const err = await failsWith({ prompt: 'x', output_schema: patterned }, openai, 'output_invalid');
    assert.match(err.message, /must match pattern/);
    llm.reply({ text: JSON.stringify({ v: 'a'.repeat(5000) }) });
    const out = await runLlm({ prompt: 'x', output_schema: patterned }, ctx(), openai);
    assert.deepEqual(out.data, { v: 'a'.repeat(5000) });
  });

  test('a pattern RE2 cannot run (a backreference) is a validation error naming output_schema', async () => {
    const backref = { type: 'string', pattern: '^(a)\\1$' };
    const err = await failsWith({ prompt: 'x', output_schema: backref }, openai, 'validation');
    assert.equal(err.field, 'output_schema');
    assert.match(err.message, /not supported.*linear time/);
    assert.equal(llm.requests.length, 0);
  });

  test('a reply of an open fence and a long run of spaces is simply not JSON; a fenced reply still parses', async () => {
    llm.reply({ text: `\`\`\`${' '.repeat(500_000)}x` }, { text: 'still not json' });
    await failsWith({ prompt: 'x', output_schema: { type: 'object' } }, openai, 'output_invalid');
    llm.reply({ text: 'Here:\n```json\n{"ok":true}\n```\nDone.' });
    const out = await runLlm({ prompt: 'x', output_schema: { type: 'object' } }, ctx(), openai);
    assert.deepEqual(out.data, { ok: true });
  });

  test('a string too long for its pattern is output_invalid, saying so', async () => {
    const wide = { type: 'object', properties: { v: { type: 'string', pattern: '^[\\s\\S]{1000}' } } };
    const long = JSON.stringify({ v: 'x'.repeat(10_000) });
    llm.reply({ text: long }, { text: long });
    const err = await failsWith({ prompt: 'x', output_schema: wide }, openai, 'output_invalid');
    assert.match(err.message, /too long to check against pattern/);
    llm.reply({ text: JSON.stringify({ v: 'x'.repeat(1000) }) });
    assert.deepEqual((await runLlm({ prompt: 'x', output_schema: wide }, ctx(), openai)).data, { v: 'x'.repeat(1000) });
  });

  test('a schema that is not a schema is a validation error', async () => {
    const err = await failsWith({ prompt: 'x', output_schema: { type: 'no-such-type' } }, openai, 'validation');
    assert.equal(err.field, 'output_schema');
    assert.equal(llm.requests.length, 0);
  });
});

describe('errors', () => {
  const cases: Array<[string, Parameters<LlmServer['reply']>[0], ErrorKind]> = [
    ['429 is overloaded', { status: 429, error: 'Rate limit reached' }, 'overloaded'],
    ['429 about credit is quota', { status: 429, error: 'Your credit balance is too low' }, 'quota'],
    ['503 is overloaded', { status: 503, error: 'busy' }, 'overloaded'],
    ['529 is overloaded', { status: 529, error: 'Overloaded' }, 'overloaded'],
    ['500 is model_error', { status: 500, error: 'boom' }, 'model_error'],
    ['401 is model_error, key scrubbed', { status: 401, error: `Incorrect API key provided: ${KEY}` }, 'model_error'],
    ['404 (unknown model) is validation', { status: 404, error: 'model not found' }, 'validation'],
  ];
  for (const [name, reply, kind] of cases) {
    for (const [label, defaults] of [
      ['openai-compatible', () => openai] as const,
      ['anthropic', () => anthropic] as const,
    ]) {
      test(`${label}: ${name}`, async () => {
        llm.reply(reply);
        await failsWith({ prompt: 'x' }, defaults(), kind);
        assert.equal(llm.requests.length, 1, 'the SDK must not retry');
      });
    }
  }

  test('a refused connection is network', async () => {
    const url = llm.url;
    await llm.close();
    llm = await startLlmServer();
    await failsWith({ prompt: 'x' }, { ...openai, base_url: url }, 'network');
  });

  test('abort is cancelled, and the step timeout is timeout', async () => {
    llm.reply({ hang: true }, { hang: true });
    const controller = new AbortController();
    const pending = failsWith({ prompt: 'x' }, openai, 'cancelled', ctx(controller.signal));
    await llm.waitForRequests(1);
    controller.abort();
    await pending;
    const err = await failsWith({ prompt: 'x', timeout: 100 }, anthropic, 'timeout');
    assert.match(err.message, /within 100 ms/);
  });

  test('missing model or endpoint is a validation error', async () => {
    assert.equal((await failsWith({ prompt: 'x' }, { ...openai, model: undefined }, 'validation')).field, 'model');
    assert.equal(
      (await failsWith({ prompt: 'x' }, { ...openai, base_url: undefined }, 'validation')).field,
      'base_url',
    );
    assert.equal((await failsWith({ prompt: '' }, openai, 'validation')).field, 'prompt');
  });
});

describe('llmDefaultsFromEnv', () => {
  test('reads the variables and offers steps only the non-default *_API_KEY ones', () => {
    const defaults = llmDefaultsFromEnv({
      SWITCHYARD_LLM_BASE_URL: 'http://127.0.0.1:11434/v1',
      SWITCHYARD_LLM_MODEL: 'llama3',
      SWITCHYARD_LLM_API_KEY: 'local-key',
      ANTHROPIC_API_KEY: 'ak',
      OPENROUTER_API_KEY: 'or',
      DATABASE_URL: 'postgres://secret',
    });
    assert.deepEqual(defaults, {
      provider: 'openai-compatible',
      base_url: 'http://127.0.0.1:11434/v1',
      model: 'llama3',
      anthropicApiKey: 'ak',
      openaiApiKey: 'local-key',
      keys: { OPENROUTER_API_KEY: 'or' },
    });
    assert.equal(llmDefaultsFromEnv({ ANTHROPIC_BASE_URL: 'http://127.0.0.1:9' }).base_url, 'http://127.0.0.1:9');
    assert.throws(() => llmDefaultsFromEnv({ SWITCHYARD_LLM_PROVIDER: 'gpt' }), { field: 'SWITCHYARD_LLM_PROVIDER' });
  });
});
