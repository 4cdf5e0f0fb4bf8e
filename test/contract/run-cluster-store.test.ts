/**
 * The RunClusterStore contract (migration 007: run adoption and its fence, parking, run commands, pool
 * holds), on every backend (test/fixtures/store-backends.ts). A fresh database per test.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WorkflowDefinition } from '../../src/domain/workflow-definition.ts';
import { RunFencedError } from '../../src/store/run-cluster-store.ts';
import type { NewRun, RunPatch } from '../../src/store/workflow-store.ts';
import { newStep } from '../../src/workflow/run-state.ts';
import { type WorkflowStoreSubject, workflowStoreSubjects } from '../fixtures/store-backends.ts';

const def = { name: 'wf', steps: { a: { worker: 'transform', depends_on: [], template: 'x' } } } as WorkflowDefinition;

function newRun(id: string): NewRun {
  return {
    id,
    workflow: 'wf',
    version: 1,
    definition: def,
    inputs: {},
    idempotency_key: null,
    idempotency_hash: null,
    created_at: new Date().toISOString(),
  };
}

const patch = (id: string, extra: Partial<RunPatch> = {}): RunPatch => ({
  id,
  status: 'running',
  started_at: null,
  finished_at: null,
  error: null,
  usage: { input_tokens: 0, output_tokens: 0, cost_usd: 0 },
  holders: 1,
  ...extra,
});

for (const [name, open] of Object.entries(workflowStoreSubjects())) {
  describe(`RunClusterStore contract: ${name}`, () => {
    const withStore = (fn: (s: WorkflowStoreSubject) => Promise<void>) => async () => {
      const subject = await open();
      try {
        await fn(subject);
      } finally {
        await subject.close();
      }
    };

    it(
      'adoption counts up; a batch fenced on an older adoption lands nothing, the current one lands',
      withStore(async ({ store }) => {
        await store.createRun(newRun('r1'), [newStep('r1', 'a')]);
        assert.equal(await store.adoptRun('nope'), undefined);
        const first = await store.adoptRun('r1');
        assert.deepEqual(first, { holders: 1, adoption: 1 });
        const second = await store.adoptRun('r1');
        assert.deepEqual(second, { holders: 2, adoption: 2 });
        const stale = { ...newStep('r1', 'a'), status: 'running' as const, attempts: 1 };
        await assert.rejects(
          store.apply({
            runs: [patch('r1', { fence: 1, status: 'failed' })],
            steps: [stale],
            events: [{ run_id: 'r1', type: 'step', data: { step: 'a' }, created_at: new Date().toISOString() }],
          }),
          (err: unknown) => err instanceof RunFencedError && err.runId === 'r1',
        );
        assert.equal((await store.getRun('r1'))?.status, 'queued');
        assert.equal((await store.getSteps('r1'))[0]?.status, 'pending');
        assert.deepEqual(await store.listRunEvents('r1', 0, 10), []);
        const saved = await store.apply({ runs: [patch('r1', { fence: 2, holders: 2 })], steps: [stale] });
        assert.deepEqual(saved, []);
        assert.equal((await store.getRun('r1'))?.status, 'running');
        // Unfenced patches (no fence) are written as before.
        await store.apply({ runs: [patch('r1', { holders: 5 })] });
        assert.equal((await store.getRun('r1'))?.holders, 5);
      }),
    );

    it(
      'release parks a run only under the current adoption; runs to wake follow holders and parked_until',
      withStore(async ({ store }) => {
        for (const id of ['held', 'parked', 'due', 'fresh', 'done'])
          await store.createRun(newRun(id), [newStep(id, 'a')]);
        await store.adoptRun('held');
        const parked = await store.adoptRun('parked');
        const due = await store.adoptRun('due');
        const later = new Date(Date.now() + 3_600_000).toISOString();
        const past = new Date(Date.now() - 1_000).toISOString();
        assert.equal(await store.releaseRun('parked', parked!.adoption + 1, later), false, 'not its adoption');
        assert.equal(await store.releaseRun('parked', parked!.adoption, later), true);
        assert.equal(await store.releaseRun('due', due!.adoption, past), true);
        assert.equal((await store.getRun('parked'))?.holders, 0);
        await store.apply({ runs: [patch('done', { status: 'completed', holders: 0 })] });
        const now = new Date().toISOString();
        assert.deepEqual(await store.listRunsToWake(now, { held: false }), ['due', 'fresh']);
        assert.deepEqual(await store.listRunsToWake(now, { held: true }), ['held', 'due', 'fresh']);
        // Adopting a parked run clears its parking.
        await store.adoptRun('parked');
        assert.deepEqual(await store.listRunsToWake(later.replace(/^\d{4}/, '9000'), { held: true }), [
          'held',
          'parked',
          'due',
          'fresh',
        ]);
      }),
    );

    it(
      'run commands: pending in order of arrival per run, an outcome recorded once',
      withStore(async ({ store }) => {
        const at = new Date().toISOString();
        const comment = 'ship \u0000 it \ud800';
        await store.addRunCommand({ id: 'c1', run_id: 'r1', action: { kind: 'cancel' }, created_at: at });
        await store.addRunCommand({ id: 'c2', run_id: 'r2', action: { kind: 'rerun' }, created_at: at });
        await store.addRunCommand({
          id: 'c3',
          run_id: 'r1',
          action: { kind: 'decide', step: 'review', approved: true, comment },
          created_at: at,
        });
        const pending = await store.pendingRunCommands('r1');
        assert.deepEqual(
          pending.map((c) => c.id),
          ['c1', 'c3'],
        );
        assert.deepEqual(pending[1]?.action, { kind: 'decide', step: 'review', approved: true, comment });
        assert.equal(pending[1]?.status, 'pending');
        await store.finishRunCommand('c1', { ok: true }, at);
        await store.finishRunCommand('c1', { ok: false, error: { kind: 'internal', message: 'late' } }, at);
        const c1 = await store.getRunCommand('c1');
        assert.equal(c1?.status, 'done');
        assert.deepEqual(c1?.outcome, { ok: true });
        await store.finishRunCommand(
          'c3',
          { ok: false, error: { kind: 'conflict', message: 'no', field: 'step' } },
          at,
        );
        assert.deepEqual((await store.getRunCommand('c3'))?.outcome, {
          ok: false,
          error: { kind: 'conflict', message: 'no', field: 'step' },
        });
        assert.deepEqual(await store.pendingRunCommands('r1'), []);
        assert.equal(await store.getRunCommand('nope'), undefined);
      }),
    );

    it(
      'pool holds: never more than the capacity, even when taken at once; released, dropped per run',
      withStore(async ({ store }) => {
        const since = new Date().toISOString();
        const hold = (run: string, step: string, item: number | null = null) => ({
          pool: 'gpu',
          run_id: run,
          step,
          item_index: item,
          since,
        });
        const takes = await Promise.all(
          Array.from({ length: 8 }, (_, i) => store.takePoolHold(hold(`r${i % 4}`, 's', i), 2)),
        );
        assert.equal(takes.filter(Boolean).length, 2);
        const held = await store.listPoolHolds();
        assert.equal(held.length, 2);
        const first = held[0]!;
        assert.equal(await store.takePoolHold(first, 2), true, 'a holder keeps its slot');
        await store.releasePoolHold(first);
        assert.equal(await store.takePoolHold(hold('rx', 'step'), 2), true);
        assert.equal(await store.takePoolHold(hold('ry', 'step'), 2), false);
        assert.equal(await store.takePoolHold({ ...hold('ry', 'step'), pool: 'other' }, 1), true);
        assert.deepEqual(await store.dropRunPoolHolds('rx'), ['gpu']);
        assert.deepEqual(
          (await store.listPoolHolds()).map((h) => [h.pool, h.item_index === null]),
          [
            ['gpu', false],
            ['other', true],
          ],
        );
      }),
    );
  });
}
