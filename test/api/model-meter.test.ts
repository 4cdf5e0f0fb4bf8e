/**
 * The model proxy is the meter (issue 6, item 8): a script the agent runs through an allowed Bash
 * rule can call the model proxy with the task's own token, so the task's max_turns and
 * max_budget_usd must hold at the proxy, for every call made with that token, and the usage a task
 * reports must be what the proxy forwarded. Real Claude Code, real Switchyard, the scripted model;
 * what reached the model is read from the requests the scripted model received.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Usage } from '../../src/domain/usage.ts';
import type { Script } from '../../src/model/scripted-model.ts';
import { type Harness, startHarness } from '../fixtures/harness.ts';

/** Calls the model proxy directly with the task's token, as a script in the task could. */
const PROBE = `
const [label, count] = process.argv.slice(2);
const statuses = [];
for (let i = 0; i < Number(count); i++) {
  const res = await fetch(process.env.ANTHROPIC_BASE_URL + '/v1/messages', {
    method: 'POST',
    headers: { 'x-api-key': process.env.ANTHROPIC_API_KEY, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'claude-opus-4-5', max_tokens: 16, stream: true,
      messages: [{ role: 'user', content: 'probe ' + label + ' ' + i }] }),
  });
  await res.text();
  statuses.push(res.status);
}
console.log('probe ' + label + ': ' + statuses.join(' '));
if (label.startsWith('hang')) setInterval(() => {}, 1000); // keeps the Bash tool busy until the task's timeout
`;

/** What one default scripted reply costs: 100 input and 20 output tokens of an Opus model. */
const CALL_COST = (100 * 5 + 20 * 25) / 1e6;

let h: Harness;
let probe: string;
let counter = 0;

// The task plays: turn 0 runs the probe through Bash, turn 1 answers with what it printed. The
// probe's own calls are answered by the same model; a "spend" probe's replies report 200k input
// tokens ($1 of Opus 4.5).
const script: Script = (req) => {
  if (req.prompt.startsWith('probe ')) {
    return { text: 'probe answer', ...(req.prompt.includes('spend') ? { usage: { input_tokens: 200_000 } } : {}) };
  }
  const [, label, count] = /^task (\S+) (\d+)/.exec(req.prompt) ?? [];
  if (req.turnIndex === 0) return { tool_use: { name: 'Bash', input: { command: `node ${probe} ${label} ${count}` } } };
  return { text: `finished: ${req.lastUserText.trim()}` };
};

before(async () => {
  h = await startHarness({ script });
  probe = path.join(h.workspace, 'probe.mjs');
  fs.writeFileSync(probe, PROBE);
});
after(() => h.close());

interface TaskView {
  status: string;
  response?: string;
  error?: { kind: string };
  result?: { usage: Usage; model_calls?: number };
}

interface Run {
  task: TaskView;
  /** Every request the model received for this task: Claude Code's and the probe's. */
  received: string[];
}

async function run(label: string, count: number, limits: Record<string, number>): Promise<Run> {
  // (limits may carry any task field that is a number: max_turns, max_budget_usd, timeout)
  const name = `${label}-${++counter}`;
  const prompt = `task ${name} ${count}`;
  const res = await h.fetch('/v1/tasks', {
    method: 'POST',
    json: { prompt, allowed_tools: ['Bash(node *)'], ...limits },
  });
  assert.equal(res.status, 201, await res.clone().text());
  const { id } = (await res.json()) as { id: string };
  const task = (await (await h.fetch(`/v1/tasks/${id}?wait=60`)).json()) as TaskView;
  const received = h.model.requests
    .filter((r) => r.prompt === prompt || r.prompt.startsWith(`probe ${name} `))
    .map((r) => (r.prompt === prompt ? `claude turn ${r.turnIndex}` : r.prompt));
  return { task, received };
}

function usageOf(task: TaskView): Usage {
  assert.ok(task.result?.usage, `the task reports its usage: ${JSON.stringify(task)}`);
  return task.result.usage;
}

test('calls a script makes past max_turns with the task token are refused and never reach the model', async () => {
  const { task, received } = await run('bypass', 3, { max_turns: 2 });
  assert.equal(task.status, 'failed', JSON.stringify(task));
  assert.equal(task.error?.kind, 'max_turns');
  assert.equal(task.result?.model_calls, 2);
  // Turn 1 of 2 ran the probe; its first call was the task's second and last; the rest, and Claude
  // Code's own turn 2, were refused at the proxy.
  assert.deepEqual(received, ['claude turn 0', `probe bypass-${counter} 0`]);
  const usage = usageOf(task);
  assert.equal(usage.input_tokens, 200, 'both forwarded calls are counted');
  assert.equal(usage.output_tokens, 40);
  assert.equal(usage.cost_usd.toFixed(9), (2 * CALL_COST).toFixed(9));
});

test('positive control: within its limits the same task completes and reports every call the proxy forwarded', async () => {
  const { task, received } = await run('within', 3, { max_turns: 5 });
  assert.equal(task.status, 'completed', JSON.stringify(task.error));
  assert.match(task.response ?? '', /probe within-\d+: 200 200 200/);
  assert.equal(received.length, 5, 'two turns of Claude Code, three probe calls');
  const usage = usageOf(task);
  assert.deepEqual({ ...usage, cost_usd: usage.cost_usd.toFixed(9) } as unknown, {
    input_tokens: 500,
    output_tokens: 100,
    cache_read_input_tokens: 0,
    cache_creation_input_tokens: 0,
    cost_usd: (5 * CALL_COST).toFixed(9),
  });
});

test('after a reply pushes the cost past max_budget_usd the next call is refused', async () => {
  const { task, received } = await run('spend', 2, { max_budget_usd: 0.5 });
  assert.equal(task.status, 'failed', JSON.stringify(task));
  assert.equal(task.error?.kind, 'budget');
  assert.deepEqual(received, ['claude turn 0', `probe spend-${counter} 0`], 'the second probe call never left');
  const usage = usageOf(task);
  assert.equal(usage.input_tokens, 200_100);
  assert.ok(usage.cost_usd > 1, `the $1 reply is on the task: ${usage.cost_usd}`);

  // Positive control: a budget the spending fits in.
  const ok = await run('spend', 2, { max_budget_usd: 5 });
  assert.equal(ok.task.status, 'completed', JSON.stringify(ok.task.error));
  assert.match(ok.task.response ?? '', /probe spend-\d+: 200 200/);
  assert.equal(usageOf(ok.task).input_tokens, 400_200);
});

test('a task stopped by its timeout still reports what the proxy forwarded', async () => {
  const { task, received } = await run('hang', 1, { timeout: 15_000 });
  assert.equal(task.status, 'failed');
  assert.equal(task.error?.kind, 'timeout');
  assert.ok(received.includes(`probe hang-${counter} 0`), JSON.stringify(received));
  assert.equal(usageOf(task).input_tokens, 100 * received.length, "every forwarded call, the probe's included");
});
