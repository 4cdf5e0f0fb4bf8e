/**
 * Independent steps run in parallel: the service answers neither branch until both requests have
 * arrived, so the run can only complete if they were in flight together; the recorded times agree.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { overlaps, startScenario, startService } from '../kit.ts';

test('independent branches overlap, then join', async (t) => {
  const api = await startService(async (req, res) => {
    await api.waitFor(2);
    res.end(req.path.slice(1));
  });
  const { wf } = await startScenario(t, import.meta.dirname, api);
  const { run } = await wf.startRun('parallel-branches', {});
  const done = await wf.waitRun(run.id, 30_000);
  assert.equal(done.status, 'completed', JSON.stringify(done.error));
  assert.equal(done.steps.find((s) => s.name === 'join')?.output?.response, 'left+right');
  const [a, b] = api.requests;
  assert.ok(a && b && overlaps(a, b), 'the two branches were in flight at the same time');
});
