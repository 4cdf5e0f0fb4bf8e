/**
 * A cancel skips what had not run yet, an approval waiting for a person included. Rerunning the
 * cancelled run must run those steps again too: the run cannot end `completed` with a step that was
 * only skipped because of the cancel (here the approval, and the deploy that needs it).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startEngine, startService, workflowText } from '../kit.ts';

test('rerun after cancel runs the steps the cancel skipped, the approval included', async (t) => {
  let hang = true;
  const api = await startService((_req, res) => {
    if (!hang) res.end('v2');
  });
  const h = await startEngine();
  t.after(async () => {
    await h.close();
    await api.close();
  });
  const wf = h.server.workflows;
  await wf.registerWorkflow(workflowText(import.meta.dirname, { API: api.url }, 'rerun.yaml'));
  const { run } = await wf.startRun('cancel-rerun', {});
  await api.waitFor(1);
  const cancelled = await wf.cancelRun(run.id);
  assert.deepEqual(
    cancelled.steps.map((s) => [s.name, s.status]),
    [
      ['build', 'failed'],
      ['review', 'skipped'],
      ['deploy', 'skipped'],
    ],
  );

  hang = false;
  await wf.rerunFrom(run.id);
  const waiting = await wf.waitRun(run.id, 30_000);
  assert.equal(waiting.status, 'awaiting_approval', 'the approval asks again instead of the run completing');
  assert.deepEqual(
    waiting.steps.map((s) => [s.name, s.status]),
    [
      ['build', 'completed'],
      ['review', 'awaiting_approval'],
      ['deploy', 'pending'],
    ],
  );
  await wf.decideApproval(run.id, 'review', { approved: true, comment: 'ok' });
  const done = await wf.waitRun(run.id, 30_000);
  assert.equal(done.status, 'completed');
  assert.equal(done.steps[2]?.output?.response, 'deployed v2 (ok)');
});
