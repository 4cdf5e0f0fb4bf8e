/**
 * Structured llm output: a reply that does not match output_schema is repaired once within the
 * attempt; when the repair fails too the attempt fails `output_invalid` (retryable) and the next
 * attempt's valid reply completes the step. Token usage of every call is summed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startLlmServer } from '../../fixtures/llm-server.ts';
import { startEngine, workflowText } from '../kit.ts';

test('output_schema: repair, then retry on output_invalid', async (t) => {
  const llm = await startLlmServer([
    { text: 'Sure! Here are the issues.' },
    { text: '{"issues": "not a list"}' },
    { text: 'prose first {"wrong": 1}' },
    { text: '```json\n{"issues": ["a", "b"]}\n```' },
  ]);
  const h = await startEngine();
  t.after(async () => {
    await h.close();
    await llm.close();
  });
  const wf = h.server.workflows;
  await wf.registerWorkflow(workflowText(import.meta.dirname, { LLM: llm.url }));
  const { run } = await wf.startRun('llm-output-schema', {});
  const done = await wf.waitRun(run.id, 30_000);
  assert.equal(done.status, 'completed', JSON.stringify(done.error));
  const extract = done.steps[0]!;
  assert.equal(extract.attempts, 2);
  assert.deepEqual(
    extract.errors.map((e) => e.kind),
    ['output_invalid'],
  );
  assert.deepEqual(extract.output?.data, { issues: ['a', 'b'] });
  assert.equal(done.steps[1]?.output?.response, '2 issues');
  assert.equal(llm.requests.length, 4);
  // The repair request carries the validation errors back to the model.
  assert.match(JSON.stringify(llm.requests[1]?.body.messages), /not valid/);
  // Usage of the successful attempt's two calls (10 + 5 tokens each). runLlm throws output_invalid
  // without the usage it spent, so a failed attempt's tokens cannot be counted yet.
  assert.deepEqual([extract.usage?.input_tokens, extract.usage?.output_tokens], [20, 10]);
  assert.equal(done.usage.input_tokens, 20);
  const events = await wf.runEvents(run.id, 0);
  assert.equal(
    events.filter((e) => e.type === 'worker' && (e.data as { event: string }).event === 'llm.repair').length,
    2,
  );
});
