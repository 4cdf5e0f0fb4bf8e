/**
 * A for_each list comes from data (an input, an upstream response) and can be of any length: one
 * longer than MAX_FOR_EACH_ITEMS fails the step as `validation` naming its for_each, before a single
 * item is made, instead of stalling the engine on a write of millions of rows.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_FOR_EACH_ITEMS } from '../../../src/workflow/for-each.ts';
import { startEngine } from '../kit.ts';

test('a for_each list longer than the limit fails the step, naming the field', async (t) => {
  const h = await startEngine();
  t.after(() => h.close());
  const wf = h.server.workflows;
  await wf.registerWorkflow(`
name: too-many-items
inputs: { list: { type: array } }
steps:
  each: { worker: transform, for_each: "{{ inputs.list }}", template: "{{ item }}" }
`);
  const { run } = await wf.startRun('too-many-items', { list: new Array(MAX_FOR_EACH_ITEMS + 1).fill(0) });
  const done = await wf.waitRun(run.id, 30_000);
  assert.equal(done.status, 'failed');
  const each = done.steps[0]!;
  assert.equal(each.error?.kind, 'validation');
  assert.match(each.error?.message ?? '', /steps\.each\.for_each: .*10001 items.*at most 10000/);
  assert.deepEqual(each.items, []);
});
