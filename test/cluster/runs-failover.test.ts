/**
 * kill -9 the worker holding a run mid-step (docs/cluster.md, Runs): pg-boss hands the run's job to the
 * other worker after the lease (10 s here); that worker adopts the run (the dead one's fence is now
 * stale), retries the interrupted step under its retry policy, and the run completes. The pool slot
 * the dead worker held is dropped by the new holder, so the pool of one admits the retry.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { postgresForTests } from '../fixtures/postgres.ts';
import { json } from '../scenarios/kit.ts';
import { concurrencyService, runUntil, startRunCluster } from './runs-kit.ts';

const pg = postgresForTests();

test('a worker killed mid-step: another worker resumes the run and it completes', { timeout: 240_000 }, async () => {
  const state = { hang: true };
  const api = await concurrencyService((req, res) => {
    if (req.path === '/work' && state.hang) return; // in flight until its worker dies
    json(res, 200, { ok: req.path });
  });
  const db = await pg.createDatabase();
  // One worker at first, so the run is held by the one that is killed.
  const rc = await startRunCluster(db.url, ['api', 'worker']);
  try {
    const client = rc.client(rc.cluster.apis[0]!);
    await client.registerWorkflow(`
name: resumable
pools: { gpu: 1 }
steps:
  work:
    worker: http
    pool: gpu
    url: "${api.url}/work"
    retry: { max_attempts: 3, backoff: { initial: 0 } }
  after: { worker: http, depends_on: [work], url: "${api.url}/after" }
`);
    const run = await client.startRun('resumable');
    await api.waitFor(1);
    const doomed = rc.cluster.workers[0]!;
    await rc.cluster.add('worker');
    state.hang = false;
    doomed.process.child.kill('SIGKILL');
    await doomed.process.exited;

    // Bounded: lease 10 s + pg-boss's monitor + polling, with a wide margin for a loaded machine.
    const done = await runUntil(
      () => client.getRun(run.id),
      (r) => r.status === 'completed' || r.status === 'failed',
      120_000,
    );
    assert.equal(done.status, 'completed', JSON.stringify(done.error));
    const work = done.steps.find((s) => s.name === 'work')!;
    assert.equal(work.attempts, 2);
    assert.deepEqual(
      work.errors.map((e) => e.kind),
      ['interrupted'],
    );
    assert.equal(api.requests.filter((r) => r.path === '/work').length, 2);
    assert.equal((await client.listPools()).find((p) => p.name === 'gpu')?.running, 0);
  } finally {
    await rc.close();
    await api.close();
  }
});
