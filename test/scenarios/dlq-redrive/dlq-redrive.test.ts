/**
 * Retries exhausted → the step fails, its dependant is skipped, the run fails and a DLQ entry holds
 * the rendered inputs (credentials redacted), every attempt's error and the run context. Redrive runs
 * the step with fresh attempts and the run completes without fetching again; discard just closes one.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { json, startScenario, startService } from '../kit.ts';

test('exhausted retries go to the DLQ; redrive resumes the run', async (t) => {
  let broken = true;
  const api = await startService((req, res) => {
    if (req.path.startsWith('/fetch')) return json(res, 200, { rate: 5 });
    return broken ? json(res, 500, { error: 'down' }) : json(res, 200, { id: 'p-1' });
  });
  const { wf } = await startScenario(t, import.meta.dirname, api);
  const { run } = await wf.startRun('dlq-redrive', { topic: 'rates' });
  const failed = await wf.waitRun(run.id, 30_000);
  assert.equal(failed.status, 'failed');
  assert.equal(failed.error?.kind, 'http_status');
  assert.deepEqual(
    failed.steps.map((s) => [s.name, s.status]),
    [
      ['fetch', 'completed'],
      ['publish', 'failed'],
      ['notify', 'skipped'],
    ],
  );
  const { items } = await wf.listDlq({ status: 'open', limit: 10 });
  assert.equal(items.length, 1);
  const entry = items[0]!;
  assert.equal(entry.run_id, run.id);
  assert.equal(entry.step, 'publish');
  assert.equal(entry.item_index, null);
  assert.deepEqual(entry.inputs.body, { report: { rate: 5 }, topic: 'rates' });
  assert.deepEqual(entry.inputs.headers, { Authorization: '[redacted]' });
  assert.deepEqual(
    entry.errors.map((e) => [e.attempt, e.kind]),
    [
      [1, 'http_status'],
      [2, 'http_status'],
    ],
  );
  assert.deepEqual(entry.context, {
    inputs: { topic: 'rates' },
    steps: { fetch: failed.steps[0]!.output },
  });
  assert.ok(!JSON.stringify(entry).includes('s3cret-token'));
  // The control: the token was really sent on every attempt, so the DLQ hides it rather than never having it.
  const publishes = api.requests.filter((r) => r.path.startsWith('/publish'));
  assert.deepEqual(
    publishes.map((r) => r.headers.authorization),
    ['Bearer s3cret-token', 'Bearer s3cret-token'],
  );

  broken = false;
  const resumed = await wf.retryDlq(entry.id);
  assert.notEqual(resumed.status, 'failed');
  const done = await wf.waitRun(run.id, 30_000);
  assert.equal(done.status, 'completed', JSON.stringify(done.error));
  assert.equal(done.steps[2]?.output?.response, 'published {"id":"p-1"}');
  const publish = done.steps[1]!;
  assert.equal(publish.attempts, 3);
  assert.equal(publish.errors.length, 2);
  assert.equal(api.requests.filter((r) => r.path.startsWith('/fetch')).length, 1, 'fetch never ran again');
  assert.equal((await wf.getDlq(entry.id)).status, 'retried');
  await assert.rejects(wf.retryDlq(entry.id), { kind: 'conflict' });

  // A second failure, discarded: the entry closes and the run stays failed.
  broken = true;
  const second = await wf.startRun('dlq-redrive', { topic: 'fx' });
  assert.equal((await wf.waitRun(second.run.id, 30_000)).status, 'failed');
  const open = (await wf.listDlq({ status: 'open', limit: 10 })).items;
  assert.equal(open.length, 1);
  const discarded = await wf.discardDlq(open[0]!.id);
  assert.equal(discarded.status, 'discarded');
  assert.ok(discarded.resolved_at);
  assert.equal((await wf.getRun(second.run.id)).status, 'failed');
});
