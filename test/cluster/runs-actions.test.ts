/**
 * People's actions from api nodes that hold nothing (docs/cluster.md, Runs): two api processes and one
 * worker on one PostgreSQL. A run started through api B reaches its approval on the worker and is
 * parked; api A approves it and answers with the run as a local call would. A cancel from api A stops
 * a running step on the worker. A dead-lettered step is redriven from api B. Bad input is still a 4xx
 * naming the field, decided by the run's holder.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AppError } from '../../src/errors.ts';
import { postgresForTests } from '../fixtures/postgres.ts';
import { json } from '../scenarios/kit.ts';
import { concurrencyService, runUntil, startRunCluster } from './runs-kit.ts';

const pg = postgresForTests();

const workflow = (api: string) => `
name: gated
steps:
  draft: { worker: http, url: "${api}/draft" }
  review: { worker: approval, depends_on: [draft], message: "publish?" }
  publish: { worker: http, depends_on: [review], url: "${api}/publish" }
`;

const flaky = (api: string) => `
name: flaky
steps:
  fetch:
    worker: http
    url: "${api}/flaky"
    retry: { max_attempts: 1 }
`;

const hanging = (api: string) => `
name: hanging
steps:
  slow: { worker: http, url: "${api}/hang" }
  after: { worker: http, depends_on: [slow], url: "${api}/after" }
`;

test('approve, cancel and redrive from api nodes that hold nothing', { timeout: 240_000 }, async () => {
  const state = { flaky: true };
  const api = await concurrencyService((req, res) => {
    if (req.path === '/hang') return; // held until the run is cancelled
    if (req.path === '/flaky' && state.flaky) return json(res, 500, { error: 'down' });
    json(res, 200, { ok: req.path });
  });
  const db = await pg.createDatabase();
  const rc = await startRunCluster(db.url, ['api', 'api', 'worker']);
  try {
    const [a, b] = rc.cluster.apis.map((n) => rc.client(n)) as [
      ReturnType<typeof rc.client>,
      ReturnType<typeof rc.client>,
    ];
    await a.registerWorkflow(workflow(api.url));
    await a.registerWorkflow(flaky(api.url));
    await a.registerWorkflow(hanging(api.url));

    // Approve on A a run started on B, parked on the worker at its approval.
    const gated = await b.startRun('gated');
    const waiting = await runUntil(
      () => a.getRun(gated.id),
      (r) => r.status === 'awaiting_approval',
      60_000,
    );
    assert.equal(waiting.steps.find((s) => s.name === 'draft')?.status, 'completed');
    // The holder decides, and its error comes back as a local call's would: 409 naming the step.
    await assert.rejects(a.approve(gated.id, 'publish'), (err: unknown) => {
      const e = err as AppError & { status?: number };
      return /not awaiting approval/.test(e.message);
    });
    const approved = await a.approve(gated.id, 'review', 'ship it');
    assert.notEqual(approved.steps.find((s) => s.name === 'review')?.status, 'awaiting_approval');
    const done = await runUntil(
      () => a.getRun(gated.id),
      (r) => r.status === 'completed' || r.status === 'failed',
      60_000,
    );
    assert.equal(done.status, 'completed', JSON.stringify(done.error));
    assert.equal(done.steps.find((s) => s.name === 'review')?.output?.response, 'ship it');

    // Cancel from A a run whose step is running on the worker.
    const hang = await b.startRun('hanging');
    await runUntil(
      () => b.getRun(hang.id),
      (r) => r.steps.some((s) => s.name === 'slow' && s.status === 'running'),
      60_000,
    );
    await runUntil(
      async () => ({ status: String(api.requests.some((r) => r.path === '/hang')) }),
      (r) => r.status === 'true',
      60_000,
    );
    const cancelled = await a.cancelRun(hang.id);
    const over = await runUntil(
      () => a.getRun(hang.id),
      (r) => r.status === 'failed',
      60_000,
    );
    assert.equal(over.error?.kind, 'cancelled');
    assert.ok(['failed', 'running'].includes(cancelled.status));
    assert.equal(over.steps.find((s) => s.name === 'after')?.status, 'skipped');

    // A dead letter redriven from B: the step runs again on the worker and the run completes.
    const run = await a.startRun('flaky');
    const failed = await runUntil(
      () => b.getRun(run.id),
      (r) => r.status === 'failed',
      60_000,
    );
    assert.equal(failed.steps[0]?.error?.kind, 'http_status');
    const entry = (await b.listDlq({ status: 'open' })).items.find((e) => e.run_id === run.id)!;
    assert.ok(entry, 'a DLQ entry');
    // Rerun from a step that does not exist: 400 naming the field, decided by the worker.
    const bad = await fetch(`${rc.cluster.apis[1]!.process.url}/v1/runs/${run.id}/rerun`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ step: 'nope' }),
    });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { error: { field?: string } }).error.field, 'step');
    state.flaky = false;
    await b.retryDlq(entry.id);
    const redriven = await runUntil(
      () => a.getRun(run.id),
      (r) => r.status === 'completed' || r.status === 'failed',
      60_000,
    );
    assert.equal(redriven.status, 'completed', JSON.stringify(redriven.error));
    assert.equal((await a.getDlq(entry.id)).status, 'retried');
  } finally {
    await rc.close();
    await api.close();
  }
});
