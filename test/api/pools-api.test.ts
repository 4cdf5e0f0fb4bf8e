/**
 * GET /v1/pools: every pool with its capacity and where that comes from, and — from the engine's own
 * admission, not from step statuses — the steps holding a slot and those waiting. A pool of one with
 * two runs: the first run's http step holds it (its request held open by a loopback service), the
 * second's waits; once the service answers, both finish and the pool is empty. Behind the API key.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Pool } from '../../src/api/contract/index.ts';
import { WorkflowClient } from '../../src/client/workflow-client.ts';
import { startEngine, startService } from '../scenarios/kit.ts';

const KEY = 'pools-key-0123456789abcdef';

test('a pool of one: one run holds it, the other waits; then both finish and it is free', async (t) => {
  let answer = () => {};
  const answered = new Promise<void>((resolve) => {
    answer = resolve;
  });
  const api = await startService(async (_req, res) => {
    await answered;
    res.end('ok');
  });
  const h = await startEngine({ env: { SWITCHYARD_API_KEYS: KEY, SWITCHYARD_POOLS: 'llm=2,spare=3' } });
  t.after(async () => {
    answer();
    await h.close();
    await api.close();
  });
  const client = new WorkflowClient({ baseUrl: h.url, apiKey: KEY });
  await client.registerWorkflow(`name: gated
pools: { gate: 1 }
steps:
  call: { worker: http, pool: gate, url: "${api.url}/slow", timeout: 60000 }
`);
  const first = await client.startRun('gated');
  const second = await client.startRun('gated');
  await api.waitFor(1);

  const pools = await client.listPools();
  for (const pool of pools) Pool.parse(pool);
  const byName = new Map(pools.map((p) => [p.name, p]));
  assert.deepEqual(byName.get('gate'), {
    name: 'gate',
    capacity: 1,
    source: 'workflow',
    workflows: ['gated'],
    running: 1,
    holders: [
      {
        run_id: first.run_id,
        workflow: 'gated',
        step: 'call',
        item_index: null,
        since: byName.get('gate')?.holders[0]?.since,
      },
    ],
    waiting: [{ run_id: second.run_id, workflow: 'gated', step: 'call', item_index: null }],
  });
  assert.ok(!Number.isNaN(Date.parse(byName.get('gate')?.holders[0]?.since ?? '')), 'since is a time');
  assert.equal((await client.getRun(second.run_id)).steps[0]?.status, 'waiting_pool');
  // Built-in pools, and the operator's SWITCHYARD_POOLS winning over a built-in one.
  assert.deepEqual(
    {
      source: byName.get('http')?.source,
      workflows: byName.get('http')?.workflows,
      running: byName.get('http')?.running,
    },
    { source: 'builtin', workflows: [], running: 0 },
  );
  assert.equal(byName.get('claude')?.source, 'builtin');
  assert.deepEqual(
    [
      byName.get('llm')?.source,
      byName.get('llm')?.capacity,
      byName.get('spare')?.source,
      byName.get('spare')?.capacity,
    ],
    ['operator', 2, 'operator', 3],
  );

  // The list is behind the API key like every other /v1 route.
  assert.equal((await h.fetch('/v1/pools')).status, 401);

  answer();
  for (const run of [first, second]) assert.equal((await client.waitRun(run.run_id, 30_000)).status, 'completed');
  assert.equal(api.requests.length, 2);
  const gate = (await client.listPools()).find((p) => p.name === 'gate');
  assert.deepEqual([gate?.running, gate?.holders, gate?.waiting], [0, [], []]);
});

test('a cancelled waiter leaves the waiting list; a cancelled holder gives its slot back once its request stops', async (t) => {
  const api = await startService(() => new Promise(() => {}));
  const h = await startEngine();
  t.after(async () => {
    await h.close();
    await api.close();
  });
  const client = new WorkflowClient({ baseUrl: h.url });
  await client.registerWorkflow(`name: gated
pools: { gate: 1 }
steps:
  call: { worker: http, pool: gate, url: "${api.url}/slow", timeout: 60000 }
`);
  const first = await client.startRun('gated');
  const second = await client.startRun('gated');
  await api.waitFor(1);
  await client.cancelRun(second.run_id);
  let gate = (await client.listPools()).find((p) => p.name === 'gate');
  assert.deepEqual(gate?.waiting, []);
  assert.deepEqual(
    gate?.holders.map((x) => x.run_id),
    [first.run_id],
  );
  await client.cancelRun(first.run_id);
  await client.waitRun(first.run_id, 30_000);
  // The slot is given back once the aborted request has really returned: poll, bounded.
  for (let i = 0; i < 200; i++) {
    gate = (await client.listPools()).find((p) => p.name === 'gate');
    if (gate?.running === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  assert.deepEqual([gate?.running, gate?.holders, gate?.waiting], [0, [], []]);
});

test('for_each items in a pool are named by their index: the first holds, the rest wait in item order', async (t) => {
  let answer = () => {};
  const answered = new Promise<void>((resolve) => {
    answer = resolve;
  });
  const api = await startService(async (_req, res) => {
    await answered;
    res.end('ok');
  });
  const h = await startEngine();
  t.after(async () => {
    answer();
    await h.close();
    await api.close();
  });
  const client = new WorkflowClient({ baseUrl: h.url });
  await client.registerWorkflow(`name: fanned
inputs:
  items: { type: array, default: [a, b, c] }
pools: { gate: 1 }
steps:
  each:
    worker: http
    pool: gate
    for_each: "{{ inputs.items }}"
    parallelism: 3
    url: "${api.url}/item/{{ item }}"
`);
  const run = await client.startRun('fanned');
  await api.waitFor(1);
  const gate = (await client.listPools()).find((p) => p.name === 'gate');
  assert.deepEqual(
    gate?.holders.map((x) => [x.run_id, x.step, x.item_index]),
    [[run.run_id, 'each', 0]],
  );
  assert.deepEqual(
    gate?.waiting.map((x) => [x.step, x.item_index]),
    [
      ['each', 1],
      ['each', 2],
    ],
  );
  answer();
  assert.equal((await client.waitRun(run.run_id, 30_000)).status, 'completed');
});
