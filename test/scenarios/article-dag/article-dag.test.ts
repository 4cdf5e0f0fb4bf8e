/**
 * The article's three-step DAG: step_1 and step_2 fetch over HTTP, step_3 is real Claude Code (against
 * the scripted model) whose prompt carries both responses through {{ step_N.response }}.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { json, startScenario, startService } from '../kit.ts';

test('two http steps feed a claude step through templates', async (t) => {
  const api = await startService((req, res) =>
    json(res, 200, req.path === '/economic-indicators' ? { gdp: 'up 2%' } : { sentiment: 'bullish' }),
  );
  const { h, wf } = await startScenario(t, import.meta.dirname, api);
  const { run, created } = await wf.startRun('article-dag', {});
  assert.equal(created, true);
  const done = await wf.waitRun(run.id, 60_000);
  assert.equal(done.status, 'completed', JSON.stringify(done.error));
  assert.deepEqual(
    done.steps.map((s) => [s.name, s.status, s.attempts]),
    [
      ['step_1', 'completed', 1],
      ['step_2', 'completed', 1],
      ['step_3', 'completed', 1],
    ],
  );
  assert.deepEqual(done.steps[0]?.output?.data, { gdp: 'up 2%' });
  const prompt = h.model.requests[0]?.prompt ?? '';
  assert.equal(prompt, 'Analyze the relationship between {"gdp":"up 2%"} and {"sentiment":"bullish"}');
  assert.equal(done.steps[2]?.output?.response, `Done: ${prompt}`);
  // Usage: the claude step's tokens and cost are the run's.
  assert.ok((done.steps[2]?.usage?.input_tokens ?? 0) > 0);
  assert.deepEqual(done.usage.input_tokens, done.steps[2]?.usage?.input_tokens);
  const events = await wf.runEvents(run.id, 0);
  assert.ok(
    events.some((e) => e.type === 'agent'),
    'agent messages are run events',
  );
  assert.deepEqual(
    events.filter((e) => e.type === 'run').map((e) => (e.data as { status: string }).status),
    ['running', 'completed'],
  );
});
