/**
 * Tasks and workflow claude steps share one budget of Claude Code processes: with one slot, a step
 * waits while a task runs, and runs once the task is gone. Every task says where it waited.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SwitchyardClient } from '../../src/client/client.ts';
import { startHarness } from '../fixtures/harness.ts';

const STEP_WORKFLOW = `name: one-claude-step
steps:
  ask:
    worker: claude
    prompt: "step prompt"
`;

/** Polls /metrics (bounded) until the gauge line matches; the condition is the event awaited. */
async function metricAppears(fetchText: () => Promise<string>, line: RegExp): Promise<string> {
  let text = '';
  for (let i = 0; i < 400; i++) {
    text = await fetchText();
    if (line.test(text)) return text;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`metrics never showed ${line}:\n${text}`);
}

test('one Claude Code slot: a workflow step waits while a task holds it, then runs', async () => {
  const h = await startHarness({
    script: (req) => (req.prompt === 'block' ? { hang: true } : { text: `done: ${req.prompt}` }),
    env: { SWITCHYARD_CONCURRENCY: '1' },
  });
  try {
    const client = new SwitchyardClient({ baseUrl: h.url });
    const blocker = await client.submit({ prompt: 'block', timeout: 120_000 });
    assert.equal((await h.fetch('/v1/workflows', { method: 'POST', body: STEP_WORKFLOW })).status, 201);
    const started = (await (
      await h.fetch('/v1/workflows/one-claude-step/runs', { method: 'POST', json: {} })
    ).json()) as {
      id: string;
    };
    const metrics = () => h.fetch('/metrics').then((r) => r.text());
    await metricAppears(metrics, /switchyard_claude_slots\{state="waiting"\} 1/);
    assert.ok(!h.model.requests.some((r) => r.prompt.includes('step prompt')), 'the step ran beside the task');
    assert.match(await metrics(), /switchyard_claude_slots\{state="in_use"\} 1/);

    await client.cancel(blocker.id);
    const run = (await (await h.fetch(`/v1/runs/${started.id}?wait=60`)).json()) as { status: string };
    assert.equal(run.status, 'completed', 'the control: once the slot is free the step runs');
    assert.ok(h.model.requests.some((r) => r.prompt.includes('step prompt')));
  } finally {
    await h.close();
  }
});

test('a task reports where it waited: the start gate and Claude Code starting', async () => {
  const h = await startHarness({ script: () => ({ text: 'ok' }) });
  try {
    const client = new SwitchyardClient({ baseUrl: h.url });
    const done = (await client.wait((await client.submit({ prompt: 'x' })).id)) as unknown as {
      result: { admission: { start_wait_ms: number; startup_ms: number } };
    };
    assert.equal(typeof done.result.admission.start_wait_ms, 'number');
    assert.ok(done.result.admission.startup_ms > 0, 'starting Claude Code takes some time');
    const text = await (await h.fetch('/metrics')).text();
    assert.match(text, /switchyard_task_wait_seconds_count\{phase="starting"\} 1/);
    assert.match(text, /switchyard_task_wait_seconds_count\{phase="queued"\} 1/);
  } finally {
    await h.close();
  }
});
