/**
 * Step templates render in slices that yield to the event loop, against one budget per step (every
 * attempt and for_each item together: SWITCHYARD_STEP_RENDER_BUDGET). Before, a for_each rendered
 * all its items in one synchronous pass: 40 items of 0.35 s kept /health from answering for ~15 s.
 *
 * No wall-clock assertions: the first test asserts that the run completes and that /health answered
 * while its items were rendering; the event loop's delay (monitorEventLoopDelay) is reported, not
 * asserted. The second shows the budget is the step's, not each item's.
 */
import assert from 'node:assert/strict';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { test } from 'node:test';
import type { RunEvent } from '../../../src/workflow/workflow-api.ts';
import { now, startEngine, workflowText } from '../kit.ts';

test('a slow for_each render leaves the server answering /health while it runs', async (t) => {
  const h = await startEngine();
  t.after(() => h.close());
  const wf = h.server.workflows;
  await wf.registerWorkflow(workflowText(import.meta.dirname));

  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const list = Array.from({ length: 10 }, (_, i) => i);
  const { run } = await wf.startRun('slow-render', { list, n: 50_000 });
  // Items render after startRun has returned (rendering is part of each attempt); the last item's
  // `completed` event marks the end.
  const started = now();
  const events: Array<{ at: number; event: RunEvent }> = [];
  wf.onRunEvent(run.id, (event) => events.push({ at: now(), event }));
  const over = wf.waitRun(run.id, 120_000);
  let finished = false;
  void over.then(() => {
    finished = true;
  });
  const answers: number[] = [];
  while (!finished) {
    const res = await h.fetch('/health');
    assert.equal(res.status, 200);
    await res.body?.cancel();
    answers.push(now());
  }
  const done = await over;
  delay.disable();

  assert.equal(done.status, 'completed', JSON.stringify(done.error));
  assert.equal(done.steps[1]?.output?.response, '10 items');
  const itemEvent = (status: string) =>
    events.filter(({ event }) => {
      const d = event.data as { item_index?: number | null; status?: string };
      return event.type === 'step' && typeof d.item_index === 'number' && d.status === status;
    });
  const rendering = { from: started, to: itemEvent('completed').at(-1)!.at };
  const during = answers.filter((at) => at > rendering.from && at < rendering.to);
  t.diagnostic(
    `/health answered ${during.length} times while 10 items rendered; event-loop delay p99 ` +
      `${(delay.percentile(99) / 1e6).toFixed(1)} ms, max ${(delay.max / 1e6).toFixed(1)} ms`,
  );
  assert.ok(during.length > 0, '/health answered while the items were rendering');
});

test("the render budget is the step's: items that together pass it fail; a cheap run of the same step completes", async (t) => {
  const h = await startEngine({ env: { SWITCHYARD_STEP_RENDER_BUDGET: '500' } });
  t.after(() => h.close());
  const wf = h.server.workflows;
  await wf.registerWorkflow(workflowText(import.meta.dirname));

  // Positive control: cheap templates stay far within 500 ms.
  const cheap = await wf.waitRun((await wf.startRun('slow-render', { list: [1, 2, 3], n: 10 })).run.id, 60_000);
  assert.equal(cheap.status, 'completed', JSON.stringify(cheap.error));

  // Ten items of ~0.35 s: each alone would be within an item-sized budget, together they are not.
  const list = Array.from({ length: 10 }, (_, i) => i);
  const slow = await wf.waitRun((await wf.startRun('slow-render', { list, n: 50_000 })).run.id, 60_000);
  assert.equal(slow.status, 'failed');
  const each = slow.steps[0]!;
  assert.equal(each.status, 'failed');
  assert.equal(each.error?.kind, 'validation');
  assert.match(each.error?.message ?? '', /steps\.each: rendering took more than the step's budget of 500 ms/);
  const failed = (each.items ?? []).filter((i) => i.status === 'failed');
  assert.ok(failed.length > 0);
  assert.ok(
    failed.every((i) => i.attempts === 1),
    'a spent budget is not retried',
  );
});
