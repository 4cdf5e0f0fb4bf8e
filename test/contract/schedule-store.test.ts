/**
 * The ScheduleStore contract (the schedule half of the WorkflowStore): every implementation runs it,
 * SQLite and PostgreSQL (test/fixtures/store-backends.ts). A fresh database per test.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WorkflowDefinition } from '../../src/domain/workflow-definition.ts';
import { newStep } from '../../src/workflow/run-state.ts';
import { type WorkflowStoreSubject, workflowStoreSubjects } from '../fixtures/store-backends.ts';

type Subject = WorkflowStoreSubject;

const factories = workflowStoreSubjects();

const key = { workflow: 'wf', trigger_id: 'nightly' };
const fire = (fire_time: string) => ({ ...key, fire_time });

for (const [name, open] of Object.entries(factories)) {
  describe(`ScheduleStore contract: ${name}`, () => {
    const withStore = (fn: (s: Subject) => Promise<void>) => async () => {
      const subject = await open();
      try {
        await fn(subject);
      } finally {
        await subject.close();
      }
    };

    it(
      'keeps a schedule since it was first seen; a new expression or zone, or a resume, moves since',
      withStore(async ({ store, reopen }) => {
        const first = await store.upsertSchedule({ ...key, cron: '0 9 * * *', timezone: 'UTC', at: 't1' });
        assert.deepEqual({ paused: first.paused, since: first.since }, { paused: false, since: 't1' });
        assert.equal(
          (await store.upsertSchedule({ ...key, cron: '0 9 * * *', timezone: 'UTC', at: 't2' })).since,
          't1',
        );
        assert.equal((await store.setSchedulePaused(key, true, 't3'))?.since, 't1');
        const moved = await store.upsertSchedule({ ...key, cron: '0 9 * * *', timezone: 'Europe/Berlin', at: 't4' });
        assert.deepEqual({ paused: moved.paused, since: moved.since }, { paused: true, since: 't4' });
        const reopened = await reopen();
        assert.equal((await reopened.getSchedule(key))?.paused, true);
        const resumed = await reopened.setSchedulePaused(key, false, 't5');
        assert.deepEqual({ paused: resumed?.paused, since: resumed?.since }, { paused: false, since: 't5' });
        assert.equal(await reopened.setSchedulePaused({ workflow: 'wf', trigger_id: 'nope' }, true, 't6'), undefined);
        assert.equal(await reopened.getSchedule({ workflow: 'nope', trigger_id: 'nightly' }), undefined);
        const other = { workflow: 'a', trigger_id: '0 * * * *' };
        await reopened.upsertSchedule({ ...other, cron: '0 * * * *', timezone: 'UTC', at: 't7' });
        assert.deepEqual(
          (await reopened.listSchedules()).map((s) => [s.workflow, s.trigger_id]),
          [
            ['a', '0 * * * *'],
            ['wf', 'nightly'],
          ],
        );
        await reopened.deleteSchedule(key);
        assert.equal(await reopened.getSchedule(key), undefined);
        assert.equal(
          (await reopened.upsertSchedule({ ...key, cron: '0 9 * * *', timezone: 'UTC', at: 't8' })).since,
          't8',
        );
      }),
    );

    it(
      'lets exactly one claimer insert a fire, and settles it once',
      withStore(async ({ store }) => {
        const f = fire('2026-01-01T09:00:00.000Z');
        const claims = await Promise.all([
          store.claimFire({ ...f, misfire: false, claimed_at: 'c1' }),
          store.claimFire({ ...f, misfire: false, claimed_at: 'c2' }),
        ]);
        assert.deepEqual(claims.sort(), [false, true]);
        assert.deepEqual(
          (await store.listUnsettledFires()).map((u) => u.fire_time),
          [f.fire_time],
        );
        await store.settleFire(f, { status: 'started', run_id: 'r1' }, 's1');
        await store.settleFire(f, { status: 'skipped', reason: 'late' }, 's2');
        const { claimed_at, ...last } = (await store.lastFire(key))!;
        assert.ok(claimed_at === 'c1' || claimed_at === 'c2');
        assert.deepEqual(last, {
          ...f,
          status: 'started',
          run_id: 'r1',
          reason: null,
          misfire: false,
          settled_at: 's1',
        });
        await store.claimFire({ ...fire('2026-01-03T09:00:00.000Z'), misfire: true, claimed_at: 'c3' });
        await store.claimFire({ ...fire('2026-01-02T09:00:00.000Z'), misfire: false, claimed_at: 'c4' });
        const latest = await store.lastFire(key);
        assert.equal(latest?.fire_time, '2026-01-03T09:00:00.000Z');
        assert.equal(latest?.misfire, true);
        assert.equal(await store.lastFire({ workflow: 'wf', trigger_id: 'other' }), undefined);
      }),
    );

    it(
      "finds the schedule's unfinished run, and none once it ends",
      withStore(async ({ store }) => {
        const definition = { name: 'wf', steps: { a: { worker: 'transform', depends_on: [], template: 'x' } } };
        await store.createRun(
          {
            id: 'r1',
            workflow: 'wf',
            version: 1,
            definition: definition as WorkflowDefinition,
            inputs: {},
            idempotency_key: null,
            idempotency_hash: null,
            created_at: 't',
            trigger: { kind: 'cron', name: 'nightly', fire_time: '2026-01-01T09:00:00.000Z' },
          },
          [newStep('r1', 'a')],
        );
        assert.deepEqual((await store.getRun('r1'))?.trigger, {
          kind: 'cron',
          name: 'nightly',
          fire_time: '2026-01-01T09:00:00.000Z',
        });
        const f = fire('2026-01-01T09:00:00.000Z');
        await store.claimFire({ ...f, misfire: false, claimed_at: 'c' });
        assert.equal(await store.activeScheduledRun(key), undefined, 'a claim without a run is not a run');
        await store.settleFire(f, { status: 'started', run_id: 'r1' }, 's');
        assert.equal(await store.activeScheduledRun(key), 'r1');
        assert.equal(await store.activeScheduledRun({ workflow: 'wf', trigger_id: 'other' }), undefined);
        const usage = { input_tokens: 0, output_tokens: 0, cost_usd: 0 };
        await store.apply({
          runs: [{ id: 'r1', status: 'completed', started_at: 't', finished_at: 't', error: null, usage, holders: 0 }],
        });
        assert.equal(await store.activeScheduledRun(key), undefined);
      }),
    );
  });
}
