/**
 * Approval steps: the step and the run wait in `awaiting_approval` until decideApproval. Approved, the
 * run goes on with the reviewer's comment as the step's response; rejected, the step fails
 * `permission_denied` (no DLQ entry: a human said no) and the rest is skipped.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startEngine, workflowText } from '../kit.ts';

test('approve and reject', async (t) => {
  const h = await startEngine();
  t.after(() => h.close());
  const wf = h.server.workflows;
  await wf.registerWorkflow(workflowText(import.meta.dirname));

  const yes = (await wf.startRun('approval', { title: 'Rates' })).run;
  assert.equal(yes.status, 'awaiting_approval');
  const review = yes.steps.find((s) => s.name === 'review')!;
  assert.equal(review.status, 'awaiting_approval');
  assert.equal((await wf.waitRun(yes.id, 0)).status, 'awaiting_approval');
  await assert.rejects(wf.decideApproval(yes.id, 'publish', { approved: true }), { kind: 'conflict' });
  await wf.decideApproval(yes.id, 'review', { approved: true, comment: 'lgtm' });
  const approved = await wf.waitRun(yes.id, 10_000);
  assert.equal(approved.status, 'completed');
  assert.equal(approved.steps.at(-1)?.output?.response, 'published (lgtm)');
  assert.deepEqual(approved.steps[1]?.output?.data, { approved: true, comment: 'lgtm' });

  const no = (await wf.startRun('approval', { title: 'Risky' })).run;
  const rejected = await wf.decideApproval(no.id, 'review', { approved: false, comment: 'not yet' });
  assert.equal(rejected.status, 'failed');
  assert.equal(rejected.error?.kind, 'permission_denied');
  assert.match(rejected.error?.message ?? '', /rejected by the reviewer: not yet/);
  assert.equal(rejected.steps.at(-1)?.status, 'skipped');
  assert.equal((await wf.listDlq({ limit: 10 })).items.length, 0);
  const events = await wf.runEvents(no.id, 0);
  assert.ok(events.some((e) => e.type === 'approval' && (e.data as { approved: boolean }).approved === false));

  // A rejected run can be rerun from the approval: the reviewer is asked again.
  const again = await wf.rerunFrom(no.id);
  assert.equal(again.status, 'awaiting_approval');
  assert.equal(again.steps[0]?.attempts, 1, 'the draft is not redone');
});
