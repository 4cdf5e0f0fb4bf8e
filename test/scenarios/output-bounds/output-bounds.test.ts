/**
 * Outputs are bounded: a step's (SWITCHYARD_MAX_STEP_OUTPUT_BYTES), a for_each fan-in's (the same
 * limit: it is the step's output), and a run's in all (SWITCHYARD_MAX_RUN_CONTEXT_BYTES). Past a
 * limit the step fails `output_too_large`, which is not retried, goes to the DLQ, and the run goes on
 * by its usual rules: other branches finish, dependants are skipped. Limits are lowered here so they
 * trip on kilobytes; the defaults (10 MiB, 64 MiB) keep a fan-in far below V8's string limit.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { json, startEngine, startService, workflowText } from '../kit.ts';

const STEP = 4096;

test('a step output past the limit fails output_too_large, unretried, into the DLQ; the other branch completes', async (t) => {
  const api = await startService((req, res) => {
    if (req.path === '/big') json(res, 200, { blob: 'x'.repeat(STEP) });
    else json(res, 200, { blob: 'y'.repeat(1500), size: 1500 }); // ~3.1 KB as response and data: within the limit
  });
  const h = await startEngine({ env: { SWITCHYARD_MAX_STEP_OUTPUT_BYTES: String(STEP) } });
  t.after(async () => {
    await h.close();
    await api.close();
  });
  const wf = h.server.workflows;
  await wf.registerWorkflow(workflowText(import.meta.dirname, { API: api.url }));
  const { run } = await wf.startRun('output-bounds', {});
  const done = await wf.waitRun(run.id, 30_000);
  const step = (name: string) => done.steps.find((s) => s.name === name)!;

  assert.equal(done.status, 'failed');
  assert.equal(step('big').status, 'failed');
  assert.equal(step('big').error?.kind, 'output_too_large');
  assert.equal(step('big').error?.retryable, false);
  assert.match(
    step('big').error?.message ?? '',
    /step "big" is more than 4096 bytes \(SWITCHYARD_MAX_STEP_OUTPUT_BYTES\)/,
  );
  assert.equal(step('big').attempts, 1, 'not retried: the output would be as large again');
  assert.equal(step('big').output, null, 'nothing of the output is kept');
  assert.equal(step('after_big').status, 'skipped');
  // Positive control: an output just within the limit is kept, and the run goes on from it.
  assert.equal(step('small').status, 'completed');
  assert.equal(step('after_small').output?.response, 'got 1500');
  const dlq = await wf.listDlq({ limit: 10 });
  assert.deepEqual(
    dlq.items.map((e) => [e.step, e.errors.at(-1)?.kind]),
    [['big', 'output_too_large']],
  );
});

test('outputs that together pass the run limit fail the step that would pass it', async (t) => {
  const api = await startService((req, res) => json(res, 200, { chunk: req.path, pad: 'z'.repeat(1200) }));
  const h = await startEngine({
    env: { SWITCHYARD_MAX_STEP_OUTPUT_BYTES: String(STEP), SWITCHYARD_MAX_RUN_CONTEXT_BYTES: '7000' },
  });
  t.after(async () => {
    await h.close();
    await api.close();
  });
  const wf = h.server.workflows;
  await wf.registerWorkflow(workflowText(import.meta.dirname, { API: api.url }, 'context.yaml'));
  const { run } = await wf.startRun('run-context', {});
  const done = await wf.waitRun(run.id, 30_000);
  const [one, two, three, four] = done.steps;
  // Each output is ~2.7 KB (the body as response, and again as data): two fit in 7000 bytes, three do not.
  assert.equal(one?.status, 'completed');
  assert.equal(two?.status, 'completed');
  assert.equal(three?.status, 'failed');
  assert.equal(three?.error?.kind, 'output_too_large');
  assert.match(
    three?.error?.message ?? '',
    /run's outputs to \d+ bytes, more than 7000 \(SWITCHYARD_MAX_RUN_CONTEXT_BYTES\)/,
  );
  assert.equal(three?.attempts, 1);
  assert.equal(four?.status, 'skipped');
  assert.equal(done.status, 'failed');
  assert.deepEqual(
    (await wf.listDlq({ limit: 10 })).items.map((e) => e.step),
    ['three'],
  );
});

test('a fan-in past the step limit fails its for_each step before the list is built; a small one completes', async (t) => {
  const h = await startEngine({
    env: { SWITCHYARD_MAX_STEP_OUTPUT_BYTES: String(STEP), SWITCHYARD_MAX_RUN_CONTEXT_BYTES: String(1 << 20) },
  });
  t.after(() => h.close());
  const wf = h.server.workflows;
  await wf.registerWorkflow(workflowText(import.meta.dirname, {}, 'fan-in.yaml'));

  // Positive control: two items of ~700 bytes fan in within 4096 bytes.
  const small = await wf.waitRun((await wf.startRun('fan-in', { list: [1, 2] })).run.id, 30_000);
  assert.equal(small.status, 'completed', JSON.stringify(small.error));
  assert.equal(small.steps[1]?.output?.response, '2 items');

  const big = await wf.waitRun((await wf.startRun('fan-in', { list: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] })).run.id, 30_000);
  const each = big.steps[0]!;
  assert.equal(big.status, 'failed');
  assert.ok(
    (each.items ?? []).every((i) => i.status === 'completed'),
    'every item is within the limit',
  );
  assert.equal(each.status, 'failed');
  assert.equal(each.error?.kind, 'output_too_large');
  assert.match(each.error?.message ?? '', /fan-in of step "each" \(10 items\) is more than 4096 bytes/);
  assert.equal(each.output, null);
  assert.equal(big.steps[1]?.status, 'skipped');
  const dlq = await wf.listDlq({ limit: 10 });
  assert.ok(dlq.items.some((e) => e.run_id === big.id && e.step === 'each' && e.item_index === null));
});
