/**
 * A task submitted to an api node runs on a worker process; everything a client does through the api
 * node reaches it there, with no polling: a long-poll answers at the end, an SSE stream shows the
 * transcript and ends, a cancel stops the worker's Claude Code (and its Bash), a follow-up runs on the
 * worker. 1 api + 1 worker `switchyard serve` process on one PostgreSQL database.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
import type { SwitchyardClient, TaskStreamEvent } from '../../src/client/client.ts';
import { type Script, type ScriptedModel, startScriptedModel } from '../../src/model/scripted-model.ts';
import { type Cluster, processesOf, startCluster } from '../fixtures/cluster.ts';
import { fileAppears } from '../fixtures/harness.ts';
import { postgresForTests } from '../fixtures/postgres.ts';

const pg = postgresForTests();

const script: Script = (req) => {
  if (req.lastUserText === 'and again?') return { text: `again: ${req.prompt}` };
  if (req.prompt === 'slow') return { text: 'ok slow', delay_ms: 1500 };
  if (req.prompt === 'hang') {
    if (req.turnIndex > 0) return { hang: true };
    return { tool_use: { name: 'Bash', input: { command: 'touch hang.started && timeout 3999 tail -f /dev/null' } } };
  }
  if (req.prompt === 'tool' && req.turnIndex === 0) {
    return { tool_use: { name: 'Bash', input: { command: 'echo from-the-worker' } } };
  }
  return { text: `answered ${req.prompt}` };
};

let model: ScriptedModel;
let cluster: Cluster;
let api: SwitchyardClient;

before(async () => {
  model = await startScriptedModel(script);
  const db = await pg.createDatabase();
  cluster = await startCluster({ databaseUrl: db.url, modelUrl: model.url, roles: ['api', 'worker'] });
  api = cluster.apis[0]!.client;
});

after(async () => {
  await cluster?.close();
  await model?.close();
});

/** Rejects after `ms`: every wait here is bounded. */
function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** The task's Bash command on the node (not the warm Claude Code spares, which are its processes too). */
function bashOf(dataDir: string): number[] {
  return processesOf(dataDir).filter((pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('tail\0-f\0/dev/null');
    } catch {
      return false;
    }
  });
}

async function until(what: string, ms: number, check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('a long-poll on the api node answers when the worker ends the task', { timeout: 90_000 }, async () => {
  const task = await api.submit({ prompt: 'slow' });
  // One request: if the end did not cross to the api node, it would come back non-terminal after 45 s.
  const ended = await api.get(task.id, 45);
  assert.equal(ended.status, 'completed', JSON.stringify(ended.error));
  assert.equal(ended.response, 'ok slow');
});

test('an SSE stream from the api node shows the worker transcript and ends', { timeout: 90_000 }, async () => {
  const task = await api.submit({ prompt: 'tool', allowed_tools: ['Bash(echo *)'] });
  const signal = AbortSignal.timeout(60_000);
  const events: TaskStreamEvent[] = [];
  for await (const e of api.events(task.id, { signal })) events.push(e);
  const types = events.map((e) => e.type);
  assert.equal(types[0], 'status');
  assert.ok(types.includes('assistant') && types.includes('user') && types.includes('result'), types.join());
  assert.match(JSON.stringify(events), /from-the-worker/, 'the Bash output run on the worker is in the stream');
  assert.equal((events.at(-1)!.data as { status: string }).status, 'completed');
  assert.deepEqual(
    events.map((e) => e.id),
    events.map((_, i) => i + 1),
    'every event, in order, none twice',
  );
});

test('a cancel sent to the api node stops the task on the worker', { timeout: 120_000 }, async () => {
  const worker = cluster.workers[0]!;
  const started = fileAppears(cluster.workspace, 'hang.started');
  const task = await api.submit({
    prompt: 'hang',
    allowed_tools: ['Bash(touch *)', 'Bash(timeout *)'],
    timeout: 180000,
  });
  await within(60_000, 'the Bash command starting on the worker', started);
  assert.equal((await api.get(task.id)).status, 'running');
  assert.ok(bashOf(worker.dataDir).length > 0, 'the worker runs the agent’s Bash command');

  const cancelled = await api.cancel(task.id);
  assert.equal(cancelled.status, 'failed');
  assert.equal(cancelled.error?.kind, 'cancelled');
  // The worker heard the end and killed what it ran (the task's timeout is 180 s, so nothing else would).
  await until('the agent’s Bash on the worker exiting', 30_000, () => bashOf(worker.dataDir).length === 0);
  // The worker's own finish of the aborted run was fenced off: the cancel stays what the task says.
  const final = await api.get(task.id);
  assert.equal(final.status, 'failed');
  assert.equal(final.error?.kind, 'cancelled');
  assert.equal(final.error?.message, 'task was cancelled');
  assert.equal(final.attempts, 1);
  // The worker is free again.
  const next = await api.submit({ prompt: 'after the cancel' });
  assert.equal((await api.get(next.id, 45)).response, 'answered after the cancel');
});

test('a follow-up message sent to the api node runs on the worker', { timeout: 120_000 }, async () => {
  const task = await api.submit({ prompt: 'first' });
  const first = await api.get(task.id, 45);
  assert.equal(first.response, 'answered first');
  const requestsBefore = model.requests.length;
  const queued = await api.sendMessage(task.id, 'and again?');
  assert.equal(queued.status, 'queued');
  const second = await api.get(task.id, 45);
  assert.equal(second.status, 'completed', JSON.stringify(second.error));
  assert.equal(second.response, 'again: first', 'the same session, resumed on the worker');
  assert.ok(model.requests.length > requestsBefore);
});
