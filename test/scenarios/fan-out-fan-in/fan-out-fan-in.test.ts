/**
 * for_each: one attempt per item, at most `parallelism` in flight, each item retried on its own, and
 * the step's output lists the items' results in item order whatever order they finished in.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { json, startScenario, startService } from '../kit.ts';

test('fan out over a list, two at a time, and fan in in order', async (t) => {
  const ids = ['a', 'b', 'c', 'd', 'e'];
  let inFlight = 0;
  let maxInFlight = 0;
  let cFailed = false;
  const api = await startService(async (req, res) => {
    if (req.path === '/items') return json(res, 200, { items: ids.map((id) => ({ id })) });
    const id = /\/item\/(\w+)/.exec(req.path)?.[1] ?? '';
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    // Early items answer last, so completion order differs from item order.
    await new Promise((r) => setImmediate(r));
    if (id === 'a') await api.waitFor(3);
    inFlight--;
    if (id === 'c' && !cFailed) {
      cFailed = true;
      return json(res, 503, { error: 'flaky' });
    }
    json(res, 200, { name: id.toUpperCase() });
  });
  const { wf } = await startScenario(t, import.meta.dirname, api);
  const { run } = await wf.startRun('fan-out-fan-in', {});
  const done = await wf.waitRun(run.id, 30_000);
  assert.equal(done.status, 'completed', JSON.stringify(done.error));
  const each = done.steps.find((s) => s.name === 'each')!;
  assert.deepEqual(
    each.output?.data,
    ids.map((id) => ({ name: id.toUpperCase() })),
  );
  assert.deepEqual(
    JSON.parse(each.output!.response),
    ids.map((id) => JSON.stringify({ name: id.toUpperCase() })),
  );
  assert.deepEqual(
    each.items?.map((i) => [i.index, i.status, i.attempts]),
    [
      [0, 'completed', 1],
      [1, 'completed', 1],
      [2, 'completed', 2],
      [3, 'completed', 1],
      [4, 'completed', 1],
    ],
  );
  assert.equal(done.steps.find((s) => s.name === 'summary')?.output?.response, 'A,B,C,D,E');
  assert.ok(maxInFlight <= 2, `parallelism held (${maxInFlight} in flight)`);
  assert.ok(api.requests.some((r) => r.path === '/item/e?i=4'));
});
