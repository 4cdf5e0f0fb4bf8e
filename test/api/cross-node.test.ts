/**
 * Two real servers on one PostgreSQL database, as two nodes of a cluster: what one node does is seen at
 * once by a client of the other. Node B runs the work; a client long-polls and streams SSE from node A
 * (tasks and workflow runs); a schedule registered on A appears on B and fires once in all; webhook
 * deliveries are sent once though both nodes' senders poll the same table.
 *
 * Which node runs a task is not up to the test (either node's scheduler may claim it): each node has its
 * own scripted model, so the model that is called tells which node runs it, and the client reads from
 * the other one. Waits are bounded, never timed.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { WorkflowClient } from '../../src/client/workflow-client.ts';
import { type Script, startScriptedModel } from '../../src/model/scripted-model.ts';
import { ManualClock } from '../../src/triggers/clock.ts';
import { type Harness, startHarness } from '../fixtures/harness.ts';
import { postgresForTests } from '../fixtures/postgres.ts';

// Registered before postgresForTests' own: the servers close before their database is dropped.
after(async () => {
  for (const h of [a, b]) {
    await h?.close();
    await h?.model.close();
  }
});
const postgres = postgresForTests();
const SECRET = `whsec_${Buffer.from('switchyard-test-cross-node-secret!').toString('base64')}`;
const START = Date.parse('2026-03-01T08:00:00Z');
const NINE = Date.parse('2026-03-01T09:00:00Z');

let a: Harness;
let b: Harness;
let clockA: ManualClock;
let clockB: ManualClock;
let dbUrl: string;

before(async () => {
  const db = await postgres.createDatabase();
  dbUrl = db.url;
  const env = {
    SWITCHYARD_DATABASE_URL: db.url,
    SWITCHYARD_WEBHOOK_SECRET: SECRET,
    SWITCHYARD_HTTP_ALLOW: '127.0.0.1',
  };
  const script =
    (name: string): Script =>
    (req) =>
      req.prompt === 'hold' ? { hang: true } : { text: `Done on ${name}: ${req.prompt}`, delay_ms: 1000 };
  const modelA = await startScriptedModel(script('A'));
  const modelB = await startScriptedModel(script('B'));
  clockA = new ManualClock(START);
  clockB = new ManualClock(START);
  a = await startHarness({ env, model: modelA, clock: clockA });
  b = await startHarness({ env, model: modelB, clock: clockB });
});

interface SseEvent {
  id: string;
  event: string;
  data: unknown;
}

/**
 * Reads an SSE stream; `onEvent` sees each event as it arrives. Resolves with every event once the server
 * ends the stream; a stream that does not end within the bound fails the test instead of hanging it.
 */
async function readSse(url: string, onEvent: (e: SseEvent) => void = () => {}): Promise<SseEvent[]> {
  const res = await fetch(url, { signal: AbortSignal.timeout(60_000) });
  assert.equal(res.status, 200);
  const events: SseEvent[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of res.body!) {
    buffer += decoder.decode(chunk as Uint8Array, { stream: true });
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const field = (name: string) =>
        block
          .split('\n')
          .find((l) => l.startsWith(`${name}:`))
          ?.slice(name.length + 1)
          .trim();
      const data = field('data');
      if (data === undefined) continue; // keep-alive comment
      const e = { id: field('id') ?? '', event: field('event') ?? 'message', data: JSON.parse(data) };
      events.push(e);
      onEvent(e);
    }
  }
  return events;
}

/** Resolves once `check` holds; fails after the bound (for what another node does in its own time). */
async function eventually<T>(what: string | (() => string), check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`not within the bound: ${typeof what === 'string' ? what : what()}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function submit(h: Harness, prompt: string): Promise<string> {
  const res = await h.fetch('/v1/tasks', { method: 'POST', json: { prompt, timeout: 120_000 } });
  assert.equal(res.status, 201, await res.clone().text());
  return ((await res.json()) as { id: string }).id;
}

/** The node whose model the task's Claude Code talks to (the node running it), and the other one. */
async function runnerOf(prompt: string): Promise<{ runner: Harness; other: Harness; name: string }> {
  return eventually(`a node runs the task "${prompt}"`, async () => {
    if (a.model.requests.some((r) => r.prompt === prompt)) return { runner: a, other: b, name: 'A' };
    if (b.model.requests.some((r) => r.prompt === prompt)) return { runner: b, other: a, name: 'B' };
    return undefined;
  });
}

test('a task run by one node: a client of the other long-polls it to its end and streams its events live', async () => {
  const done = await submit(b, 'hello');
  // Its model answers after a moment, so the long-poll below is (almost always) waiting when it ends.
  const { other, name } = await runnerOf('hello');
  const polled = await other.fetch(`/v1/tasks/${done}?wait=60`, { signal: AbortSignal.timeout(30_000) });
  const task = (await polled.json()) as { status: string; response: string };
  assert.equal(task.status, 'completed');
  assert.equal(task.response, `Done on ${name}: hello`);
  assert.equal(
    other.model.requests.some((r) => r.prompt === 'hello'),
    false,
    'the other node did not run it',
  );

  // A task that waits until cancelled: the other node's stream is open (its first event came) before
  // the running node ends it.
  const held = await submit(b, 'hold');
  const nodes = await runnerOf('hold');
  let running!: () => void;
  const sawRunning = new Promise<void>((resolve) => {
    running = resolve;
  });
  const stream = readSse(`${nodes.other.url}/v1/tasks/${held}/events`, (e) => {
    if (e.event === 'status' && (e.data as { status: string }).status === 'running') running();
  });
  await sawRunning;
  const longPoll = nodes.other.fetch(`/v1/tasks/${held}?wait=60`, { signal: AbortSignal.timeout(30_000) });
  const cancelled = await nodes.runner.fetch(`/v1/tasks/${held}/cancel`, { method: 'POST' });
  assert.equal(cancelled.status, 200);
  const ended = (await (await longPoll).json()) as { status: string; error: { kind: string } };
  assert.equal(ended.status, 'failed');
  assert.equal(ended.error.kind, 'cancelled');
  const events = await stream;
  const last = events.at(-1)!;
  assert.equal(last.event, 'status');
  assert.equal((last.data as { status: string }).status, 'failed');
  // In seq order, without gaps or repeats.
  assert.deepEqual(
    events.map((e) => Number(e.id)),
    events.map((_, i) => i + 1),
  );
  assert.equal(
    nodes.other.model.requests.some((r) => r.prompt === 'hold'),
    false,
  );
});

const GATED = `name: gated
steps:
  draft:
    worker: transform
    template: "draft"
  review:
    worker: approval
    depends_on: [draft]
    message: "Publish {{ draft.response }}?"
  publish:
    worker: transform
    depends_on: [review]
    template: "published"
`;

test('a workflow run driven by node B: node A streams its events and long-polls it to its end', async () => {
  const clientA = new WorkflowClient({ baseUrl: a.url });
  const clientB = new WorkflowClient({ baseUrl: b.url });
  await clientB.registerWorkflow(GATED);
  const run = await clientB.startRun('gated');
  let awaiting!: () => void;
  const sawAwaiting = new Promise<void>((resolve) => {
    awaiting = resolve;
  });
  const stream = readSse(`${a.url}/v1/runs/${run.id}/events`, (e) => {
    if (e.event === 'step' && (e.data as { status: string }).status === 'awaiting_approval') awaiting();
  });
  await sawAwaiting;
  const longPoll = a.fetch(`/v1/runs/${run.id}?wait=60`, { signal: AbortSignal.timeout(30_000) });
  await clientB.approve(run.id, 'review', 'ship it');
  const done = (await (await longPoll).json()) as { status: string };
  assert.equal(done.status, 'completed');
  const events = await stream;
  const last = events.at(-1)!;
  assert.equal(last.event, 'run');
  assert.equal((last.data as { status: string }).status, 'completed');
  assert.deepEqual(
    events.map((e) => Number(e.id)),
    events.map((_, i) => i + 1),
  );
  assert.equal((await clientA.getRun(run.id)).status, 'completed');
});

const NIGHTLY = `name: nightly
triggers:
  - cron: "0 9 * * *"
    name: morning
steps:
  brief:
    worker: transform
    template: "brief"
`;

test('a schedule registered on node A shows on node B without a restart and fires once in all', async () => {
  const clientA = new WorkflowClient({ baseUrl: a.url });
  const clientB = new WorkflowClient({ baseUrl: b.url });
  await clientA.registerWorkflow(NIGHTLY);
  const onB = await eventually('node B lists the schedule', async () =>
    (await clientB.listSchedules()).find((s) => s.workflow === 'nightly'),
  );
  assert.equal(onB.next_fire_time, '2026-03-01T09:00:00.000Z');

  // Both nodes reach the fire time; each tries to claim it; one run starts.
  await Promise.all([clockA.set(NINE), clockB.set(NINE)]);
  const runs = (await clientA.listRuns({ workflow: 'nightly' })).items;
  assert.equal(runs.length, 1);
  const last = await eventually('node B sees the fire started', async () => {
    const s = (await clientB.listSchedules()).find((x) => x.workflow === 'nightly');
    return s?.last_fire?.status === 'started' ? s.last_fire : undefined;
  });
  assert.equal(last.run_id, runs[0]!.id);

  // A pause on B holds A's next fire too.
  await clientB.pauseSchedule('nightly', 'morning');
  const TOMORROW = NINE + 86_400_000;
  await Promise.all([clockA.set(TOMORROW), clockB.set(TOMORROW)]);
  assert.equal((await clientA.listRuns({ workflow: 'nightly' })).items.length, 1);
});

test('webhook deliveries: both nodes poll one table, and each delivery is sent once', async () => {
  const received: string[] = [];
  const receiver = http.createServer((req, res) => {
    received.push(String(req.headers['webhook-id']));
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  const db = new pg.Client({ connectionString: dbUrl });
  await db.connect();
  try {
    const N = 40;
    await db.query(
      `INSERT INTO webhook_deliveries (task_id, url, payload, next_attempt_at)
       SELECT 'task-' || i, $1, '{"type":"task.completed"}', $2 FROM generate_series(1, $3) AS i`,
      [url, new Date().toISOString(), N],
    );
    await eventually('every delivery is recorded sent', async () => {
      const { rows } = await db.query(
        'SELECT count(*)::int AS n FROM webhook_deliveries WHERE delivered_at IS NOT NULL',
      );
      return rows[0].n === N ? true : undefined;
    });
    // Stop both senders (each waits for its sends in flight), then count what arrived.
    await Promise.all([a.server.close(2000), b.server.close(2000)]);
    assert.equal(received.length, N, `received ${received.length} for ${N} deliveries`);
    assert.equal(new Set(received).size, N);
    const { rows } = await db.query('SELECT attempts FROM webhook_deliveries');
    assert.ok(rows.every((r) => r.attempts === 1));
  } finally {
    await db.end();
    await new Promise((resolve) => receiver.close(resolve));
  }
});
