/**
 * Schedules in-process: two engines (each its own WorkflowService, Schedules and SQLite connection) on
 * one database race for the same fires; a claim left by an engine that stopped between claim and run is
 * completed once; the ManualClock and the cron seam themselves.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../src/config.ts';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { SqliteWorkflowStore } from '../../src/store/sqlite/sqlite-workflow-store.ts';
import { ManualClock } from '../../src/triggers/clock.ts';
import { Schedules } from '../../src/triggers/schedules.ts';
import { CronTimes } from '../../src/triggers/schedules-cron.ts';
import { WorkflowService } from '../../src/workflow/workflow-service.ts';
import { tempDir } from '../fixtures/harness.ts';

const at = (text: string) => Date.parse(text);
const silent = { info() {}, warn() {}, error() {} };

interface Engine {
  base: SqliteStore;
  store: SqliteWorkflowStore;
  workflows: WorkflowService;
  schedules: Schedules;
  clock: ManualClock;
  stop(): Promise<void>;
}

/** One engine on the database in `root`, with its own connection and its own clock. */
async function engine(root: string, start: number): Promise<Engine> {
  fs.mkdirSync(path.join(root, 'workspace'), { recursive: true });
  const config = loadConfig(
    {
      SWITCHYARD_DATA_DIR: path.join(root, 'data'),
      SWITCHYARD_WORKSPACE_ROOTS: path.join(root, 'workspace'),
      SWITCHYARD_LOG_LEVEL: 'silent',
    },
    {},
    root,
  );
  const base = openSqliteStore(config.dataDir);
  const store = new SqliteWorkflowStore(base);
  const workflows = new WorkflowService({
    config,
    store,
    runClaude: async () => {
      throw new Error('no claude step runs in these tests');
    },
    logger: silent,
  });
  await workflows.start();
  const clock = new ManualClock(start);
  const schedules = new Schedules({ store, runs: workflows, clock, logger: silent });
  await schedules.start();
  return {
    base,
    store,
    workflows,
    schedules,
    clock,
    async stop() {
      await schedules.stop();
      await workflows.stop(1000);
      await base.close();
    },
  };
}

const HOURLY = `name: hourly
inputs:
  topic: { type: string }
triggers:
  - { cron: "0 * * * *", name: tick, overlap: allow, inputs: { topic: rates } }
steps:
  a: { worker: transform, template: "{{ inputs.topic }}" }
`;

test('two engines on one database both see each fire: one claim, one run per fire', async () => {
  const root = tempDir();
  const start = at('2026-04-01T00:00:30Z');
  const a = await engine(root, start);
  const b = await engine(root, start);
  try {
    await a.workflows.registerWorkflow(HOURLY);
    await a.schedules.refresh();
    await b.schedules.refresh();
    for (const hour of ['01', '02', '03']) {
      const t = at(`2026-04-01T${hour}:00:00Z`);
      // Both clocks reach the fire together, so both engines try to claim it at once.
      await Promise.all([a.clock.set(t), b.clock.set(t)]);
    }
    const runs = (await a.store.listRuns({ workflow: 'hourly', limit: 100 })).items;
    assert.deepEqual(runs.map((r) => r.trigger?.fire_time).sort(), [
      '2026-04-01T01:00:00.000Z',
      '2026-04-01T02:00:00.000Z',
      '2026-04-01T03:00:00.000Z',
    ]);
    for (const r of runs) assert.deepEqual(r.inputs, { topic: 'rates' });
    const last = await b.store.lastFire({ workflow: 'hourly', trigger_id: 'tick' });
    assert.equal(last?.status, 'started');
    assert.ok(runs.some((r) => r.id === last?.run_id));
  } finally {
    await a.stop();
    await b.stop();
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('a fire claimed by an engine that stopped before starting its run is started once by the next', async () => {
  const root = tempDir();
  const start = at('2026-04-01T00:00:30Z');
  let e = await engine(root, start);
  try {
    await e.workflows.registerWorkflow(HOURLY);
    await e.stop();
    // What an engine killed between the claim and the run leaves behind.
    const base = openSqliteStore(path.join(root, 'data'));
    const fire = { workflow: 'hourly', trigger_id: 'tick', fire_time: '2026-04-01T01:00:00.000Z' };
    assert.equal(await new SqliteWorkflowStore(base).claimFire({ ...fire, misfire: false, claimed_at: 'x' }), true);
    await base.close();

    e = await engine(root, at('2026-04-01T01:00:10Z'));
    const runs = (await e.store.listRuns({ workflow: 'hourly', limit: 10 })).items;
    assert.equal(runs.length, 1);
    assert.equal(runs[0]?.trigger?.fire_time, fire.fire_time);
    const settled = await e.store.lastFire(fire);
    assert.equal(settled?.status, 'started');
    assert.equal(settled?.run_id, runs[0]?.id);
    assert.deepEqual(await e.store.listUnsettledFires(), []);
  } finally {
    await e.stop();
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('ManualClock fires due timers in time order, with now() at each timer, and awaits them', async () => {
  const clock = new ManualClock(1000);
  const seen: Array<[string, number]> = [];
  clock.setTimer(3000, async () => {
    await new Promise((resolve) => setImmediate(resolve));
    seen.push(['b', clock.now()]);
  });
  clock.setTimer(2000, () => {
    seen.push(['a', clock.now()]);
    clock.setTimer(2500, () => {
      seen.push(['a2', clock.now()]);
    });
  });
  const cancelled = clock.setTimer(2200, () => {
    seen.push(['cancelled', clock.now()]);
  });
  cancelled.cancel();
  clock.setTimer(9000, () => {
    seen.push(['later', clock.now()]);
  });
  await clock.advance(2000);
  assert.deepEqual(seen, [
    ['a', 2000],
    ['a2', 2500],
    ['b', 3000],
  ]);
  assert.equal(clock.now(), 3000);
  assert.equal(clock.pending, 1);
});

test('CronTimes: next is strictly after, latest is at or before, in the zone', () => {
  const hourly = new CronTimes('0 * * * *');
  assert.equal(hourly.next(at('2026-01-01T01:00:00Z')), at('2026-01-01T02:00:00Z'));
  assert.equal(hourly.next(at('2026-01-01T01:00:00.400Z')), at('2026-01-01T02:00:00Z'));
  assert.equal(hourly.latest(at('2026-01-01T01:00:00Z')), at('2026-01-01T01:00:00Z'));
  assert.equal(hourly.latest(at('2026-01-01T00:59:59.999Z')), at('2026-01-01T00:00:00Z'));
  const berlin = new CronTimes('0 9 * * *', 'Europe/Berlin');
  assert.equal(berlin.next(at('2026-03-28T12:00:00Z')), at('2026-03-29T07:00:00Z'));
  assert.equal(berlin.latest(at('2026-03-29T06:59:59Z')), at('2026-03-28T08:00:00Z'));
});
