/**
 * A pool of one under load from two workers (docs/cluster.md, Runs): eight runs of a workflow whose
 * http step takes the pool `gpu: 1`, started through the api node, driven by two worker processes on
 * one PostgreSQL. The loopback service records how many requests it holds at once: never two. Every
 * run completes, and GET /v1/pools on the api node (which holds nothing) shows the pool from the store.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { postgresForTests } from '../fixtures/postgres.ts';
import { json } from '../scenarios/kit.ts';
import { concurrencyService, runUntil, startRunCluster } from './runs-kit.ts';

const pg = postgresForTests();

test('a pool of one never runs two steps at once across two workers', { timeout: 240_000 }, async () => {
  const api = await concurrencyService(async (_req, res) => {
    // Long enough that a second holder, if there were one, would overlap.
    await new Promise((r) => setTimeout(r, 150));
    json(res, 200, { ok: true });
  });
  const db = await pg.createDatabase();
  const rc = await startRunCluster(db.url, ['api', 'worker', 'worker']);
  try {
    const client = rc.client(rc.cluster.apis[0]!);
    await client.registerWorkflow(`
name: gpu
pools: { gpu: 1 }
steps:
  infer: { worker: http, pool: gpu, url: "${api.url}/infer" }
  after: { worker: http, depends_on: [infer], url: "${api.url}/after" }
`);
    const runs = [];
    for (let i = 0; i < 8; i++) runs.push(await client.startRun('gpu'));
    for (const run of runs) {
      const done = await runUntil(
        async () => {
          const pools = await client.listPools();
          const gpu = pools.find((p) => p.name === 'gpu');
          assert.ok((gpu?.running ?? 0) <= 1, JSON.stringify(gpu));
          return client.getRun(run.id);
        },
        (r) => r.status === 'completed' || r.status === 'failed',
        120_000,
      );
      assert.equal(done.status, 'completed', JSON.stringify(done.error));
    }
    const infers = api.requests.filter((r) => r.path === '/infer');
    assert.equal(infers.length, 8);
    const calls = [...infers].sort((x, y) => x.startedAt - y.startedAt);
    for (let i = 1; i < calls.length; i++) {
      assert.ok(calls[i]!.startedAt >= calls[i - 1]!.endedAt!, `infer ${i} started before infer ${i - 1} ended`);
    }
    const gpu = (await client.listPools()).find((p) => p.name === 'gpu');
    assert.equal(gpu?.running, 0, 'every slot was given back');
  } finally {
    await rc.close();
    await api.close();
  }
});
