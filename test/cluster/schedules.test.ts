/**
 * Several schedulers, one run per fire (docs/cluster.md, Roles): every process runs the cron scheduler,
 * and a fire is claimed once in the Store. Three real processes (two api, one worker) on one PostgreSQL
 * all schedule a workflow that fires every two seconds; each fire time starts exactly one run, and a
 * pause sent to one api node stops the fires of all three.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Run } from '../../src/client/workflow-client.ts';
import { postgresForTests } from '../fixtures/postgres.ts';
import { startRunCluster } from './runs-kit.ts';

const pg = postgresForTests();

test('three schedulers start one run per fire, and a pause on one node stops them all', {
  timeout: 180_000,
}, async () => {
  const db = await pg.createDatabase();
  const rc = await startRunCluster(db.url, ['api', 'api', 'worker']);
  try {
    const [a, b] = rc.cluster.apis.map((node) => rc.client(node));
    // Registered on A: B and the worker hear of it through the notifier, not a restart.
    await a!.registerWorkflow(`
name: tick
triggers:
  - { cron: "*/2 * * * * *", name: every-2s }
steps:
  stamp: { worker: transform, template: "tick" }
`);
    const cronRuns = async (): Promise<Run[]> =>
      (await b!.listRuns({ workflow: 'tick', limit: 200 })).items.filter((r) => r.trigger?.kind === 'cron');
    const deadline = Date.now() + 60_000;
    while (new Set((await cronRuns()).map((r) => r.trigger?.fire_time)).size < 4) {
      assert.ok(Date.now() < deadline, 'four fires within the bound');
      await new Promise((r) => setTimeout(r, 250));
    }
    await b!.pauseSchedule('tick', 'every-2s');
    // A fire already claimed when the pause landed may still start its run: let those settle.
    await new Promise((r) => setTimeout(r, 3000));
    const settled = await cronRuns();
    const fires = settled.map((r) => r.trigger?.fire_time);
    assert.equal(new Set(fires).size, fires.length, `one run per fire time: ${fires.sort().join(', ')}`);
    for (const run of settled) {
      const done = await a!.waitRun(run.id, 30_000);
      assert.equal(done.status, 'completed', JSON.stringify(done.error));
    }
    // Paused everywhere: no node starts another run.
    await new Promise((r) => setTimeout(r, 4500));
    assert.equal((await cronRuns()).length, settled.length, 'no fire after the pause');
    const schedule = (await a!.listSchedules()).find((s) => s.workflow === 'tick');
    assert.equal(schedule?.paused, true, JSON.stringify(schedule));
  } finally {
    await rc.close();
  }
});
