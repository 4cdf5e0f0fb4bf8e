/**
 * Per-step timeout: the attempt is aborted (the service sees the request closed), fails `timeout`
 * (retryable) and the next attempt completes. Also: idempotency keys on startRun.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { json, startScenario, startService } from '../kit.ts';

test('a step that exceeds its timeout is aborted and retried', async (t) => {
  const api = await startService((_req, res) => {
    if (api.requests.length > 1) json(res, 200, { ok: 1 });
  });
  const { wf } = await startScenario(t, import.meta.dirname, api);
  const { run } = await wf.startRun('timeout', {}, { idempotencyKey: 'once' });
  const done = await wf.waitRun(run.id, 30_000);
  assert.equal(done.status, 'completed', JSON.stringify(done.error));
  assert.deepEqual(
    done.steps[0]?.errors.map((e) => [e.attempt, e.kind]),
    [[1, 'timeout']],
  );
  assert.match(done.steps[0]?.errors[0]?.message ?? '', /exceeded its timeout of 1000 ms/);
  assert.ok(api.requests[0]?.endedAt, 'the timed-out request was closed');

  const again = await wf.startRun('timeout', {}, { idempotencyKey: 'once' });
  assert.equal(again.created, false);
  assert.equal(again.run.id, run.id);
  await assert.rejects(wf.startRun('timeout', { note: 'other' }, { idempotencyKey: 'once' }), { kind: 'conflict' });
  await assert.rejects(wf.startRun('timeout', { extra: 1 }), { kind: 'validation', field: 'inputs.extra' });
  await assert.rejects(wf.startRun('nope', {}), { kind: 'not_found' });
});
