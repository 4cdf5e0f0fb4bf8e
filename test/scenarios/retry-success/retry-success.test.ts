/** Two 503s, then success: three attempts, both failures kept in `errors`, the run completes. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { json, recordEvents, startScenario, startService } from '../kit.ts';

test('a retryable failure is retried until it succeeds', async (t) => {
  const api = await startService((_req, res) =>
    api.requests.length <= 2 ? json(res, 503, { error: 'busy' }) : json(res, 200, { ok: true }),
  );
  const { h, wf } = await startScenario(t, import.meta.dirname, api);
  const { run } = await wf.startRun('retry-success', {});
  const events = recordEvents(h, run.id);
  const done = await wf.waitRun(run.id, 30_000);
  assert.equal(done.status, 'completed', JSON.stringify(done.error));
  const fetch = done.steps[0]!;
  assert.equal(fetch.attempts, 3);
  assert.deepEqual(
    fetch.errors.map((e) => [e.attempt, e.kind, e.retryable]),
    [
      [1, 'http_status', true],
      [2, 'http_status', true],
    ],
  );
  assert.equal(fetch.error, null);
  assert.equal(done.steps[1]?.output?.response, 'got true');
  assert.equal(api.requests.length, 3);
  const statuses = events
    .filter((e) => e.type === 'step' && (e.data as { step: string }).step === 'fetch')
    .map((e) => (e.data as { status: string }).status);
  assert.deepEqual(statuses.slice(-5), ['retry_wait', 'running', 'retry_wait', 'running', 'completed']);
});
