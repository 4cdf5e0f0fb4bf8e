/**
 * A pool of one holds exactly, across runs: eight llm calls from two runs never overlap (each starts
 * after the previous ended at the server), while the http steps of both runs are all in flight
 * together (the service answers none until all eight have arrived). Waiting steps are `waiting_pool`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startLlmServer } from '../../fixtures/llm-server.ts';
import { startEngine, startService, workflowText } from '../kit.ts';

test('a pool of 1 runs llm steps one at a time while http steps overlap', async (t) => {
  const llm = await startLlmServer(Array.from({ length: 8 }, (_, i) => ({ text: `answer ${i}` })));
  const api = await startService(async (_req, res) => {
    await api.waitFor(8);
    res.end('ok');
  });
  const h = await startEngine();
  t.after(async () => {
    await h.close();
    await llm.close();
    await api.close();
  });
  const wf = h.server.workflows;
  await wf.registerWorkflow(workflowText(import.meta.dirname, { LLM: llm.url, API: api.url }));
  const first = await wf.startRun('pool-serial', {});
  const second = await wf.startRun('pool-serial', {});
  const waiting = first.run.steps.concat(second.run.steps).filter((s) => s.status === 'waiting_pool');
  assert.ok(waiting.length >= 6, `most llm steps wait for the pool (${waiting.length})`);
  assert.deepEqual(waiting[0]?.pool_usage, { running: 1, capacity: 1 });
  for (const run of [first.run, second.run]) {
    const done = await wf.waitRun(run.id, 30_000);
    assert.equal(done.status, 'completed', JSON.stringify(done.error));
  }
  assert.equal(llm.requests.length, 8);
  const calls = [...llm.requests].sort((a, b) => a.startedAt - b.startedAt);
  for (let i = 1; i < calls.length; i++) {
    assert.ok(calls[i]!.startedAt >= calls[i - 1]!.endedAt!, `llm call ${i} started before call ${i - 1} ended`);
  }
  assert.equal(api.requests.length, 8, 'all http steps were in flight together');
});
