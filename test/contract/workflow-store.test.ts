/**
 * The WorkflowStore contract: every implementation runs this suite, unchanged: SQLite and PostgreSQL
 * (test/fixtures/store-backends.ts lists them). A fresh database per test.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WorkflowDefinition } from '../../src/domain/workflow-definition.ts';
import type { NewRun, StepRecord } from '../../src/store/workflow-store.ts';
import { newStep } from '../../src/workflow/run-state.ts';
import type { DlqEntry } from '../../src/workflow/workflow-api.ts';
import { type WorkflowStoreSubject, workflowStoreSubjects } from '../fixtures/store-backends.ts';

type Subject = WorkflowStoreSubject;

const factories = workflowStoreSubjects();

const def = (prompt = 'hi'): WorkflowDefinition =>
  ({
    name: 'wf',
    steps: { a: { worker: 'transform', depends_on: [], template: prompt } },
  }) as WorkflowDefinition;

function newRun(id: string, extra: Partial<NewRun> = {}): NewRun {
  return {
    id,
    workflow: 'wf',
    version: 1,
    definition: def(),
    inputs: { topic: 'x' },
    idempotency_key: null,
    idempotency_hash: null,
    created_at: new Date().toISOString(),
    ...extra,
  };
}

for (const [name, open] of Object.entries(factories)) {
  describe(`WorkflowStore contract: ${name}`, () => {
    const withStore = (fn: (s: Subject) => Promise<void>) => async () => {
      const subject = await open();
      try {
        await fn(subject);
      } finally {
        await subject.close();
      }
    };

    it(
      'versions a workflow only when its definition changes',
      withStore(async ({ store }) => {
        const at = new Date().toISOString();
        const v1 = await store.putWorkflow({ name: 'wf', source: 'api', definition: def(), updated_at: at });
        assert.equal(v1.version, 1);
        const same = await store.putWorkflow({ name: 'wf', source: 'api', definition: def(), updated_at: at });
        assert.equal(same.version, 1);
        const v2 = await store.putWorkflow({ name: 'wf', source: '/w/wf.yaml', definition: def('x'), updated_at: at });
        assert.equal(v2.version, 2);
        assert.equal(v2.source, '/w/wf.yaml');
        assert.deepEqual((await store.getWorkflow('wf'))?.definition, def('x'));
        assert.deepEqual(
          (await store.listWorkflows()).map((w) => w.name),
          ['wf'],
        );
        assert.equal(await store.getWorkflow('nope'), undefined);
      }),
    );

    it(
      'creates runs with their steps, honouring idempotency keys',
      withStore(async ({ store }) => {
        const steps = [newStep('r1', 'a')];
        const first = await store.createRun(newRun('r1', { idempotency_key: 'k', idempotency_hash: 'h1' }), steps);
        assert.equal(first.created, true);
        assert.equal(first.run.status, 'queued');
        assert.deepEqual(first.run.usage, { input_tokens: 0, output_tokens: 0, cost_usd: 0 });
        const again = await store.createRun(newRun('r2', { idempotency_key: 'k', idempotency_hash: 'h1' }), []);
        assert.equal(again.created, false);
        assert.equal(again.run.id, 'r1');
        await assert.rejects(store.createRun(newRun('r3', { idempotency_key: 'k', idempotency_hash: 'other' }), []), {
          kind: 'conflict',
        });
        assert.equal(await store.getRun('r2'), undefined);
        assert.deepEqual(await store.getSteps('r1'), steps);
      }),
    );

    it(
      'records a webhook delivery with its run in one transaction; a repeated delivery returns that run',
      withStore(async (subject) => {
        const { store } = subject;
        const at = new Date().toISOString();
        const delivery = { hook: 'gh', delivery_id: 'd1', event: 'push', received_at: at };
        const first = await store.createRunForDelivery(delivery, newRun('r1'), [newStep('r1', 'a')]);
        assert.equal(first.created, true);
        const again = await store.createRunForDelivery(delivery, newRun('r2'), [newStep('r2', 'a')]);
        assert.deepEqual([again.created, again.run.id], [false, 'r1']);
        assert.equal(await store.getRun('r2'), undefined);
        // Two copies in the same tick (one group commit): one run.
        const copy = { ...delivery, delivery_id: 'd2' };
        const both = await Promise.all([
          store.createRunForDelivery(copy, newRun('r3'), []),
          store.createRunForDelivery(copy, newRun('r4'), []),
        ]);
        assert.deepEqual(
          both.map((b) => [b.created, b.run.id]),
          [
            [true, 'r3'],
            [false, 'r3'],
          ],
        );
        // The same id on another hook is another delivery.
        assert.equal(
          (await store.createRunForDelivery({ ...delivery, hook: 'other' }, newRun('r5'), [])).created,
          true,
        );
        // A run that cannot be inserted leaves no delivery behind.
        await store.createRun(newRun('r6', { idempotency_key: 'k', idempotency_hash: 'h' }), []);
        const failing = newRun('r7', { idempotency_key: 'k', idempotency_hash: 'other' });
        await assert.rejects(store.createRunForDelivery({ ...delivery, delivery_id: 'd3' }, failing, []), {
          kind: 'conflict',
        });
        assert.equal(await store.getWebhookDelivery('gh', 'd3'), undefined);
        const reopened = await subject.reopen();
        assert.deepEqual(await reopened.getWebhookDelivery('gh', 'd1'), { ...delivery, run_id: 'r1' });
        assert.equal((await reopened.getWebhookDelivery('gh', 'd2'))?.run_id, 'r3');
        assert.equal(await reopened.getWebhookDelivery('gh', 'nope'), undefined);
      }),
    );

    it(
      'applies a transition atomically and numbers events per run',
      withStore(async ({ store }) => {
        await store.createRun(newRun('r1'), [newStep('r1', 'a'), newStep('r1', 'b')]);
        const item: StepRecord = { ...newStep('r1', 'b', 0, { id: 7 }), status: 'running', attempts: 1 };
        const step: StepRecord = {
          ...newStep('r1', 'a'),
          status: 'completed',
          attempts: 2,
          output: { response: 'ok', data: { n: 1 } },
          errors: [{ kind: 'network', message: 'x', retryable: true, attempt: 1, at: 't' }],
          usage: { input_tokens: 1, output_tokens: 2, cost_usd: 0.5 },
        };
        const saved = await store.apply({
          runs: [
            {
              id: 'r1',
              status: 'running',
              started_at: 's',
              finished_at: null,
              error: null,
              usage: { input_tokens: 1, output_tokens: 2, cost_usd: 0.5 },
              holders: 0,
            },
          ],
          steps: [step, item],
          events: [
            { run_id: 'r1', type: 'run', data: { status: 'running' }, created_at: 't' },
            { run_id: 'r1', type: 'step', data: { step: 'a' }, created_at: 't' },
          ],
        });
        assert.deepEqual(
          saved.map((e) => e.seq),
          [1, 2],
        );
        const more = await store.apply({ events: [{ run_id: 'r1', type: 'agent', data: null, created_at: 't' }] });
        assert.equal(more[0]?.seq, 3);
        assert.deepEqual(
          (await store.listRunEvents('r1', 1, 10)).map((e) => [e.seq, e.type]),
          [
            [2, 'step'],
            [3, 'agent'],
          ],
        );
        const rows = await store.getSteps('r1');
        assert.deepEqual(
          rows.find((r) => r.name === 'a'),
          step,
        );
        assert.deepEqual(
          rows.find((r) => r.item_index === 0),
          item,
        );
        assert.equal((await store.getRun('r1'))?.status, 'running');
        assert.deepEqual(
          (await store.listActiveRuns()).map((r) => r.id),
          ['r1'],
        );

        await store.apply({ deleteItems: [{ run_id: 'r1', name: 'b' }] });
        assert.equal((await store.getSteps('r1')).length, 2);
      }),
    );

    it(
      'commits transitions of a run in the order they were handed in, without waiting in between',
      withStore(async ({ store }) => {
        await store.createRun(newRun('r1'), [newStep('r1', 'a')]);
        // The engine commits each transition as it happens; a step's later state must win.
        const writes = Array.from({ length: 30 }, (_, i) =>
          store.apply({
            steps: [{ ...newStep('r1', 'a'), status: i === 29 ? 'failed' : 'running', attempts: i + 1 }],
            events: [{ run_id: 'r1', type: 'step', data: { attempt: i + 1 }, created_at: 't' }],
          }),
        );
        const saved = await Promise.all(writes);
        assert.deepEqual(
          saved.map((events) => events[0]?.seq),
          Array.from({ length: 30 }, (_, i) => i + 1),
        );
        const [step] = await store.getSteps('r1');
        assert.deepEqual([step?.status, step?.attempts], ['failed', 30]);
        assert.deepEqual(
          (await store.listRunEvents('r1', 0, 100)).map((e) => (e.data as { attempt: number }).attempt),
          Array.from({ length: 30 }, (_, i) => i + 1),
        );
      }),
    );

    it(
      "counts a run's holders durably, from 0, and sets them back",
      withStore(async (subject) => {
        const { run } = await subject.store.createRun(newRun('r1'), []);
        assert.equal(run.holders, 0);
        const patch = { ...run, status: 'running' as const, holders: 2 };
        await subject.store.apply({ runs: [patch] });
        let reopened = await subject.reopen();
        assert.equal((await reopened.getRun('r1'))?.holders, 2);
        assert.equal((await reopened.listActiveRuns())[0]?.holders, 2);
        await reopened.apply({ runs: [{ ...patch, holders: 0 }] });
        reopened = await subject.reopen();
        assert.equal((await reopened.getRun('r1'))?.holders, 0);
      }),
    );

    it(
      'lists runs newest first with a cursor and filters',
      withStore(async ({ store }) => {
        for (const id of ['r1', 'r2', 'r3']) await store.createRun(newRun(id), []);
        await store.createRun(newRun('o1', { workflow: 'other' }), []);
        const page1 = await store.listRuns({ workflow: 'wf', limit: 2 });
        assert.deepEqual(
          page1.items.map((r) => r.id),
          ['r3', 'r2'],
        );
        const page2 = await store.listRuns({ workflow: 'wf', limit: 2, cursor: page1.next_cursor! });
        assert.deepEqual(
          page2.items.map((r) => r.id),
          ['r1'],
        );
        assert.equal(page2.next_cursor, null);
        assert.equal((await store.listRuns({ status: 'completed', limit: 10 })).items.length, 0);
      }),
    );

    it(
      'keeps DLQ entries and their resolution, durably',
      withStore(async (subject) => {
        await subject.store.createRun(newRun('r1'), []);
        const entry: DlqEntry = {
          id: 'd1',
          run_id: 'r1',
          workflow: 'wf',
          step: 'a',
          item_index: 2,
          status: 'open',
          inputs: { url: 'http://x' },
          errors: [{ kind: 'http_status', message: '500', retryable: true, attempt: 1, at: 't' }],
          context: { inputs: { topic: 'x' }, steps: {} },
          created_at: 't',
          resolved_at: null,
        };
        await subject.store.apply({ dlq: [entry] });
        assert.deepEqual(await subject.store.getDlq('d1'), entry);
        await subject.store.apply({ dlq: [{ ...entry, status: 'retried', resolved_at: 'u' }] });
        const reopened = await subject.reopen();
        assert.deepEqual(await reopened.getDlq('d1'), { ...entry, status: 'retried', resolved_at: 'u' });
        assert.equal((await reopened.listDlq({ status: 'open', limit: 10 })).items.length, 0);
        assert.equal((await reopened.listDlq({ run_id: 'r1', limit: 10 })).items.length, 1);
      }),
    );
  });
}
