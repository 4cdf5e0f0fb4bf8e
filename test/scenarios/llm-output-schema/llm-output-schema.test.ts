/**
 * Structured llm output: a reply that does not match output_schema is repaired once within the
 * attempt; when the repair fails too the attempt fails `output_invalid` (retryable) and the next
 * attempt's valid reply completes the step. Token usage of every call is summed, the failed attempt's
 * included.
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
  // Four calls of 10 + 5 tokens: the failed attempt's two count as much as the successful one's.
  assert.deepEqual([extract.usage?.input_tokens, extract.usage?.output_tokens], [40, 20]);
  assert.deepEqual([done.usage.input_tokens, done.usage.output_tokens], [40, 20]);
  // The step's output shows the attempt that produced it.
  assert.deepEqual([extract.output?.usage?.input_tokens, extract.output?.usage?.output_tokens], [20, 10]);
  const events = await wf.runEvents(run.id, 0);
  assert.equal(
    events.filter((e) => e.type === 'worker' && (e.data as { event: string }).event === 'llm.repair').length,
    2,
  );
});
