/**
 * cancelRun aborts the running step (the service sees its request closed), skips what has not run,
 * and the run fails with kind `cancelled`. Cancelling again changes nothing.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startScenario, startService } from '../kit.ts';

test('cancel aborts running steps and fails the run as cancelled', async (t) => {
  const api = await startService(() => {
    // Never answers: only the cancel can end this request.
  });
  const { h, wf } = await startScenario(t, import.meta.dirname, api);
  const { run } = await wf.startRun('cancel', {});
  await api.waitFor(1);
  assert.equal((await wf.getRun(run.id)).status, 'awaiting_approval');
  const cancelled = await wf.cancelRun(run.id);
  assert.equal(cancelled.status, 'failed');
  assert.equal(cancelled.error?.kind, 'cancelled');
  assert.deepEqual(
    cancelled.steps.map((s) => [s.name, s.status, s.error?.kind ?? null]),
    [
      ['slow', 'failed', 'cancelled'],
      ['review', 'skipped', null],
      ['analyse', 'skipped', null],
    ],
  );
  const closed = new Promise<void>((resolve) => {
    const check = () => (api.requests[0]?.endedAt !== undefined ? resolve() : setImmediate(check));
    check();
  });
  await closed;
  assert.equal(h.model.requests.length, 0, 'claude never ran');
  assert.deepEqual((await wf.cancelRun(run.id)).status, 'failed');
  assert.equal((await wf.listDlq({ limit: 10 })).items.length, 0, 'a cancel is not a dead letter');
});
