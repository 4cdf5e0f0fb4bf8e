/**
 * Schedules against a real server and a real SQLite data dir, driven by a ManualClock: a test moves
 * time and awaits what the fires did, never sleeps. Restarts close the server and start another on the
 * same data dir with the same clock.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { type Run, type ScheduleView, WorkflowClient } from '../../src/client/workflow-client.ts';
import { loadConfig } from '../../src/config.ts';
import { type RunningServer, startServer } from '../../src/main.ts';
import { ManualClock } from '../../src/triggers/clock.ts';
import { tempDir } from '../fixtures/harness.ts';
import { databaseEnvFor } from '../fixtures/test-backend.ts';

const at = (text: string) => Date.parse(text);

interface Node {
  server: RunningServer;
  client: WorkflowClient;
  fetch(p: string, init?: RequestInit): Promise<Response>;
}

const roots: string[] = [];
after(() => {
  for (const root of roots) fs.rmSync(root, { recursive: true, force: true });
});

/** A data dir that outlives servers, so a test can restart on it. */
function dataRoot(): string {
  const root = tempDir();
  fs.mkdirSync(path.join(root, 'workspace'));
  roots.push(root);
  return root;
}

async function serve(root: string, clock: ManualClock, env: Record<string, string> = {}): Promise<Node> {
  const config = loadConfig(
    {
      SWITCHYARD_PORT: '0',
      SWITCHYARD_DATA_DIR: path.join(root, 'data'),
      SWITCHYARD_WORKSPACE_ROOTS: path.join(root, 'workspace'),
      SWITCHYARD_LOG_LEVEL: 'silent',
      SWITCHYARD_WARM: '0',
      // No claude step runs here; nothing listens on this port.
      ANTHROPIC_BASE_URL: 'http://127.0.0.1:9',
      ANTHROPIC_API_KEY: 'sk-ant-test-key-not-secret',
      ...(await databaseEnvFor(path.join(root, 'data'))),
      ...env,
    },
    {},
    root,
  );
  const server = await startServer(config, { clock });
  return {
    server,
    client: new WorkflowClient({ baseUrl: server.url }),
    fetch: (p, init) => fetch(`${server.url}${p}`, init),
  };
}

/** Runs of a workflow, oldest first. */
async function runsOf(node: Node, workflow: string): Promise<Run[]> {
  return (await node.client.listRuns({ workflow, limit: 200 })).items.reverse();
}

async function schedule(node: Node, workflow: string, trigger: string): Promise<ScheduleView> {
  const found = (await node.client.listSchedules()).find((s) => s.workflow === workflow && s.trigger === trigger);
  assert.ok(found, `no schedule ${workflow}/${trigger}`);
  return found;
}

const NIGHTLY = `name: nightly
inputs:
  topic: { type: string }
  depth: { type: integer, default: 2 }
triggers:
  - cron: "0 9 * * *"
    name: morning
    inputs: { topic: rates }
steps:
  brief:
    worker: transform
    template: "{{ inputs.topic }} {{ inputs.depth }}"
`;

test('a fire starts exactly one run with the trigger inputs, and the run says what started it', async () => {
  const clock = new ManualClock(at('2026-03-01T00:00:00Z'));
  const node = await serve(dataRoot(), clock);
  try {
    await node.client.registerWorkflow(NIGHTLY);
    const before = await schedule(node, 'nightly', 'morning');
    assert.equal(before.next_fire_time, '2026-03-01T09:00:00.000Z');
    assert.equal(before.timezone, 'UTC');
    assert.equal(before.paused, false);
    assert.equal(before.last_fire, null);

    await clock.set(at('2026-03-01T08:59:59Z'));
    assert.equal((await runsOf(node, 'nightly')).length, 0);
    await clock.set(at('2026-03-01T09:00:00Z'));
    const runs = await runsOf(node, 'nightly');
    assert.equal(runs.length, 1);
    const run = await node.client.waitRun(runs[0]!.run_id, 10_000);
    assert.equal(run.status, 'completed');
    assert.deepEqual(run.inputs, { topic: 'rates', depth: 2 });
    assert.deepEqual(run.trigger, { kind: 'cron', name: 'morning', fire_time: '2026-03-01T09:00:00.000Z' });
    assert.equal(run.steps[0]?.output?.response, 'rates 2');

    await clock.advance(30 * 60_000);
    assert.equal((await runsOf(node, 'nightly')).length, 1, 'one fire, one run');
    const afterFire = await schedule(node, 'nightly', 'morning');
    assert.equal(afterFire.next_fire_time, '2026-03-02T09:00:00.000Z');
    assert.deepEqual(afterFire.last_fire, {
      fire_time: '2026-03-01T09:00:00.000Z',
      status: 'started',
      run_id: run.run_id,
      reason: null,
      misfire: false,
    });
    // A run a client starts has no trigger, and cannot claim a fire's idempotency key.
    const manual = await node.client.startRun('nightly', { topic: 'x' });
    assert.equal(manual.trigger, null);
    const res = await node.fetch('/v1/workflows/nightly/runs', {
      method: 'POST',
      body: JSON.stringify({ inputs: { topic: 'rates' }, trigger: { kind: 'cron' } }),
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { error: { field: string } }).error.field, 'trigger');
    const squat = await node.fetch('/v1/workflows/nightly/runs', {
      method: 'POST',
      body: JSON.stringify({ inputs: { topic: 'rates' } }),
      headers: { 'content-type': 'application/json', 'idempotency-key': 'schedule:0123abcd' },
    });
    assert.equal(squat.status, 400);
    assert.equal(((await squat.json()) as { error: { field: string } }).error.field, 'Idempotency-Key');
  } finally {
    await node.server.close(2000);
  }
});

test('Europe/Berlin: fire instants follow the zone across the spring DST change', async () => {
  const clock = new ManualClock(at('2026-03-27T12:00:00Z'));
  const node = await serve(dataRoot(), clock);
  try {
    await node.client.registerWorkflow(`name: berlin
triggers:
  - cron: "0 9 * * *"
    name: nine
    timezone: Europe/Berlin
  - cron: "30 2 * * *"
    name: half_past_two
    timezone: Europe/Berlin
steps:
  a: { worker: transform, template: "x" }
`);
    // 09:00 CET is 08:00Z; after the change on 29 March, 09:00 CEST is 07:00Z.
    assert.equal((await schedule(node, 'berlin', 'nine')).next_fire_time, '2026-03-28T08:00:00.000Z');
    await clock.set(at('2026-03-28T08:00:00Z'));
    assert.equal((await schedule(node, 'berlin', 'nine')).next_fire_time, '2026-03-29T07:00:00.000Z');
    await clock.set(at('2026-03-29T06:59:59Z'));
    const fires = (await runsOf(node, 'berlin')).map((r) => r.trigger);
    await clock.set(at('2026-03-29T07:00:00Z'));
    const nine = (await runsOf(node, 'berlin'))
      .filter((r) => r.trigger?.name === 'nine')
      .map((r) => r.trigger?.fire_time);
    assert.deepEqual(nine, ['2026-03-28T08:00:00.000Z', '2026-03-29T07:00:00.000Z']);
    // 02:30 does not exist on 29 March (02:00 → 03:00): it fires once, at the change (01:00Z).
    assert.ok(fires.some((t) => t?.name === 'half_past_two' && t.fire_time === '2026-03-29T01:00:00.000Z'));
  } finally {
    await node.server.close(2000);
  }
});

test('Europe/Berlin: 02:30 on the autumn change (it happens twice) fires once', async () => {
  const clock = new ManualClock(at('2026-10-24T12:00:00Z'));
  const node = await serve(dataRoot(), clock);
  try {
    await node.client.registerWorkflow(`name: berlin
triggers:
  - { cron: "30 2 * * *", name: half_past_two, timezone: Europe/Berlin }
steps:
  a: { worker: transform, template: "x" }
`);
    await clock.set(at('2026-10-25T03:00:00Z'));
    const autumn = (await runsOf(node, 'berlin'))
      .map((r) => r.trigger)
      .filter((t) => t?.name === 'half_past_two' && t.fire_time?.startsWith('2026-10-25'));
    assert.deepEqual(
      autumn.map((t) => t?.fire_time),
      ['2026-10-25T00:30:00.000Z'],
    );
  } finally {
    await node.server.close(2000);
  }
});

test('misfires across a restart: skip starts nothing, run_once starts one run for three missed fires', async () => {
  const clock = new ManualClock(at('2026-05-01T00:00:30Z'));
  const root = dataRoot();
  let node = await serve(root, clock);
  try {
    await node.client.registerWorkflow(`name: hourly
triggers:
  - { cron: "0 * * * *", name: skipper }
  - { cron: "0 * * * *", name: catcher, misfire: run_once }
steps:
  a: { worker: transform, template: "x" }
`);
    await clock.set(at('2026-05-01T01:00:00Z'));
    const first = await runsOf(node, 'hourly');
    assert.equal(first.length, 2);
    for (const r of first) assert.equal((await node.client.waitRun(r.run_id, 10_000)).status, 'completed');
    await node.server.close(2000);

    // No server from 01:00 to 04:30: the 02:00, 03:00 and 04:00 fires are missed.
    await clock.set(at('2026-05-01T04:30:00Z'));
    node = await serve(root, clock);
    const runs = await runsOf(node, 'hourly');
    assert.deepEqual(runs.map((r) => `${r.trigger?.fire_time} ${r.trigger?.name}`).sort(), [
      '2026-05-01T01:00:00.000Z catcher',
      '2026-05-01T01:00:00.000Z skipper',
      '2026-05-01T04:00:00.000Z catcher',
    ]);
    assert.equal((await schedule(node, 'hourly', 'catcher')).last_fire?.misfire, true);
    assert.equal((await schedule(node, 'hourly', 'skipper')).last_fire?.fire_time, '2026-05-01T01:00:00.000Z');
    await node.client.waitRun(runs.at(-1)!.run_id, 10_000);

    // Back on time: both fire at 05:00, and a second start on the same data finds nothing more to do.
    await clock.set(at('2026-05-01T05:00:00Z'));
    assert.equal((await runsOf(node, 'hourly')).length, 5);
    await node.server.close(2000);
    node = await serve(root, clock);
    assert.equal((await runsOf(node, 'hourly')).length, 5, 'a restart never starts a claimed fire again');
  } finally {
    await node.server.close(2000);
  }
});

test('overlap: skip records the fire as skipped while the last run waits for approval; allow starts it', async () => {
  const clock = new ManualClock(at('2026-06-01T00:00:00Z'));
  const node = await serve(dataRoot(), clock);
  try {
    await node.client.registerWorkflow(`name: gated
triggers:
  - { cron: "*/10 * * * *", name: strict }
  - { cron: "*/10 * * * *", name: loose, overlap: allow }
steps:
  review: { worker: approval, message: "ship it?" }
`);
    await clock.set(at('2026-06-01T00:10:00Z'));
    await clock.set(at('2026-06-01T00:20:00Z'));
    const runs = await runsOf(node, 'gated');
    const by = (name: string) => runs.filter((r) => r.trigger?.name === name);
    assert.equal(by('strict').length, 1);
    assert.equal(by('loose').length, 2);
    const held = by('strict')[0]!;
    const strict = await schedule(node, 'gated', 'strict');
    assert.equal(strict.last_fire?.status, 'skipped');
    assert.equal(strict.last_fire?.fire_time, '2026-06-01T00:20:00.000Z');
    assert.match(strict.last_fire?.reason ?? '', new RegExp(`overlap: run ${held.run_id} .*still running`));

    // Once the held run is decided, the next fire starts again.
    await node.client.approve(held.run_id, 'review');
    assert.equal((await node.client.waitRun(held.run_id, 10_000)).status, 'completed');
    await clock.set(at('2026-06-01T00:30:00Z'));
    assert.equal((await runsOf(node, 'gated')).filter((r) => r.trigger?.name === 'strict').length, 2);
    assert.equal((await schedule(node, 'gated', 'strict')).last_fire?.status, 'started');
  } finally {
    await node.server.close(2000);
  }
});

test('pause and resume through the API and the CLI client; the paused state survives a restart', async () => {
  const clock = new ManualClock(at('2026-03-01T00:00:00Z'));
  const root = dataRoot();
  let node = await serve(root, clock);
  try {
    await node.client.registerWorkflow(`name: nightly
triggers:
  - { cron: "0 9 * * *", name: morning, misfire: run_once }
  - cron: "*/5 * * * *"
steps:
  a: { worker: transform, template: "x" }
`);
    const paused = await node.fetch('/v1/schedules/nightly/morning/pause', { method: 'POST' });
    assert.equal(paused.status, 200);
    assert.equal(((await paused.json()) as ScheduleView).paused, true);
    // A trigger without a name is addressed by its cron expression.
    assert.equal((await node.client.pauseSchedule('nightly', '*/5 * * * *')).paused, true);

    await clock.set(at('2026-03-01T09:00:00Z'));
    assert.equal((await runsOf(node, 'nightly')).length, 0, 'a paused schedule starts nothing');

    await node.server.close(2000);
    node = await serve(root, clock);
    assert.equal((await schedule(node, 'nightly', 'morning')).paused, true, 'paused after a restart');
    await clock.set(at('2026-03-02T12:00:00Z'));
    assert.equal((await runsOf(node, 'nightly')).length, 0);

    // Fires missed while paused are not made up on resume, even with misfire: run_once.
    assert.equal((await node.client.resumeSchedule('nightly', 'morning')).paused, false);
    assert.equal((await runsOf(node, 'nightly')).length, 0);
    await clock.set(at('2026-03-03T09:00:00Z'));
    const runs = await runsOf(node, 'nightly');
    assert.deepEqual(
      runs.map((r) => r.trigger?.fire_time),
      ['2026-03-03T09:00:00.000Z'],
    );
    await node.server.close(2000);
    node = await serve(root, clock);
    assert.equal((await schedule(node, 'nightly', 'morning')).paused, false, 'resumed after a restart');
    assert.equal((await schedule(node, 'nightly', '*/5 * * * *')).paused, true);

    for (const [p, field, name] of [
      ['/v1/schedules/nightly/evening/pause', 'trigger', 'evening'],
      ['/v1/schedules/ghost/morning/resume', 'workflow', 'ghost'],
    ] as const) {
      const res = await node.fetch(p, { method: 'POST' });
      const body = (await res.json()) as { error: { kind: string; message: string; field: string } };
      assert.equal(res.status, 404, JSON.stringify(body));
      assert.equal(body.error.field, field);
      assert.match(body.error.message, new RegExp(`"${name}"`));
    }
  } finally {
    await node.server.close(2000);
  }
});

test('schedules follow re-registration: a changed cron reschedules, a removed trigger stops firing and is forgotten', async () => {
  const clock = new ManualClock(at('2026-03-01T00:00:00Z'));
  const node = await serve(dataRoot(), clock);
  try {
    await node.client.registerWorkflow(NIGHTLY);
    await node.client.registerWorkflow(NIGHTLY.replace('0 9 * * *', '0 7 * * *'));
    assert.equal((await schedule(node, 'nightly', 'morning')).next_fire_time, '2026-03-01T07:00:00.000Z');
    await node.client.registerWorkflow(NIGHTLY.replace(/triggers:[\s\S]*?steps:/, 'steps:'));
    assert.deepEqual(await node.client.listSchedules(), []);
    await clock.set(at('2026-03-02T00:00:00Z'));
    assert.equal((await runsOf(node, 'nightly')).length, 0);
    // Added back, it owes nothing from the time it did not exist, even with misfire: run_once.
    await node.client.registerWorkflow(NIGHTLY.replace('name: morning', 'name: morning\n    misfire: run_once'));
    assert.equal((await runsOf(node, 'nightly')).length, 0);
    assert.equal((await schedule(node, 'nightly', 'morning')).next_fire_time, '2026-03-02T09:00:00.000Z');
    await clock.set(at('2026-03-02T09:00:00Z'));
    assert.equal((await runsOf(node, 'nightly')).length, 1);
  } finally {
    await node.server.close(2000);
  }
});

test('bad cron, time zone or inputs are a 400 naming the field at registration', async () => {
  const clock = new ManualClock(at('2026-03-01T00:00:00Z'));
  const node = await serve(dataRoot(), clock);
  const wf = (triggers: string) => `name: bad
inputs:
  topic: { type: string }
  depth: { type: integer, default: 2 }
triggers:
${triggers}
steps:
  a: { worker: transform, template: "{{ inputs.topic }}" }
`;
  const cases: Array<[string, string, RegExp]> = [
    ['  - { cron: "61 * * * *", inputs: { topic: x } }', 'triggers[0].cron', /not a valid cron expression.*minute/],
    ['  - { cron: "every day", inputs: { topic: x } }', 'triggers[0].cron', /not a valid cron expression/],
    ['  - { cron: "2026-01-01T00:00:00", inputs: { topic: x } }', 'triggers[0].cron', /not a date/],
    ['  - { cron: "0 0 30 2 *", inputs: { topic: x } }', 'triggers[0].cron', /never fires/],
    ['  - { cron: "0 9 * * *", timezone: Mars/Base, inputs: { topic: x } }', 'triggers[0].timezone', /IANA/],
    ['  - { cron: "0 9 * * *", timezone: "+01:00", inputs: { topic: x } }', 'triggers[0].timezone', /IANA/],
    ['  - { cron: "0 9 * * *" }', 'triggers[0].inputs.topic', /is required/],
    ['  - { cron: "0 9 * * *", inputs: { topic: x, depth: deep } }', 'triggers[0].inputs.depth', /integer/],
    ['  - { cron: "0 9 * * *", inputs: { topic: x, extra: 1 } }', 'triggers[0].inputs.extra', /not a declared input/],
    [
      '  - { cron: "0 9 * * *", name: a, inputs: { topic: x } }\n  - { cron: "0 8 * * *", name: a, inputs: { topic: y } }',
      'triggers[1].name',
      /repeats schedule "a"/,
    ],
    [
      '  - { cron: "0 9 * * *", inputs: { topic: x } }\n  - { cron: "0 9 * * *", inputs: { topic: y } }',
      'triggers[1].cron',
      /repeats schedule "0 9 \* \* \*"/,
    ],
    ['  - { cron: "0 9 * * *", misfire: later, inputs: { topic: x } }', 'triggers[0].misfire', /skip, run_once/],
    ['  - { cron: "0 9 * * *", timezon: UTC, inputs: { topic: x } }', 'triggers[0].timezon', /did you mean "timezone"/],
    ['  - { cron: 5, inputs: { topic: x } }', 'triggers[0].cron', /must be string/],
    [
      '  - { cron: "0 9 * * *", inputs: { topic: x } }\n  - nonsense',
      'triggers[1]',
      /`cron` \(a schedule\) or `webhook`/,
    ],
  ];
  try {
    for (const [triggers, field, message] of cases) {
      const res = await node.fetch('/v1/workflows', {
        method: 'POST',
        body: wf(triggers),
        headers: { 'content-type': 'application/yaml' },
      });
      const body = (await res.json()) as { error: { message: string; field: string } };
      assert.equal(res.status, 400, `${triggers}: ${JSON.stringify(body)}`);
      assert.equal(body.error.field, field, `${triggers}: ${JSON.stringify(body)}`);
      assert.match(body.error.message, message);
      assert.match(body.error.message, /^line \d+: /, 'names the line');
      assert.ok(body.error.message.includes(`${field} `), body.error.message);
    }
    assert.deepEqual(await node.client.listSchedules(), []);
  } finally {
    await node.server.close(2000);
  }
});

test('adversarial: inputs are literal (a template is not rendered); years of missed per-second fires cost one run', async () => {
  const clock = new ManualClock(at('2026-01-01T00:00:00Z'));
  const root = dataRoot();
  let node = await serve(root, clock);
  try {
    await node.client.registerWorkflow(`name: literal
inputs:
  topic: { type: string }
triggers:
  - cron: "* * * * * *"
    name: every_second
    misfire: run_once
    inputs: { topic: "{{ secrets.TOKEN }} {% raw %}" }
steps:
  echo: { worker: transform, template: "{{ inputs.topic }}" }
`);
    await clock.set(at('2026-01-01T00:00:01Z'));
    const [run] = await runsOf(node, 'literal');
    assert.ok(run);
    const done = await node.client.waitRun(run.run_id, 10_000);
    assert.equal(done.inputs.topic, '{{ secrets.TOKEN }} {% raw %}');
    assert.equal(done.steps[0]?.output?.response, '{{ secrets.TOKEN }} {% raw %}');
    await node.server.close(2000);

    // Three years without a server: ~95 million missed fires, one run, found without walking them.
    await clock.set(at('2029-01-01T00:00:00.500Z'));
    node = await serve(root, clock);
    const runs = await runsOf(node, 'literal');
    assert.equal(runs.length, 2);
    assert.equal(runs[1]?.trigger?.fire_time, '2029-01-01T00:00:00.000Z');
  } finally {
    await node.server.close(2000);
  }
});

const CLI = path.resolve(import.meta.dirname, '../../src/cli/main.ts');

/** `switchyard …` as a real process against the server (exit code, stdout, stderr). */
function cli(url: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: { PATH: process.env.PATH ?? '', SWITCHYARD_URL: url }, timeout: 30_000 },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

test('switchyard schedules: list and pause from the CLI; an unknown trigger fails naming it', async () => {
  const clock = new ManualClock(at('2026-03-01T00:00:00Z'));
  const node = await serve(dataRoot(), clock);
  try {
    await node.client.registerWorkflow(NIGHTLY);
    const ls = await cli(node.server.url, ['schedules']);
    assert.equal(ls.code, 0, ls.stderr);
    assert.match(ls.stdout, /^nightly\/morning {2}active {2}"0 9 \* \* \*" UTC {2}next 2026-03-01T09:00:00\.000Z$/m);
    const paused = await cli(node.server.url, ['schedules', 'pause', 'nightly', 'morning']);
    assert.equal(paused.code, 0, paused.stderr);
    assert.match(paused.stdout, /nightly\/morning {2}paused/);
    assert.equal((await schedule(node, 'nightly', 'morning')).paused, true);
    const unknown = await cli(node.server.url, ['schedules', 'pause', 'nightly', 'evening']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /has no schedule "evening"/);
  } finally {
    await node.server.close(2000);
  }
});

test('schedules sit behind the API key and are in /openapi.json', async () => {
  const clock = new ManualClock(at('2026-03-01T00:00:00Z'));
  const key = 'sk-test-schedules-0123456789';
  const node = await serve(dataRoot(), clock, { SWITCHYARD_API_KEYS: key });
  try {
    for (const [method, p] of [
      ['GET', '/v1/schedules'],
      ['POST', '/v1/schedules/nightly/morning/pause'],
      ['POST', '/v1/schedules/nightly/morning/resume'],
    ] as const) {
      const res = await node.fetch(p, { method });
      await res.body?.cancel();
      assert.equal(res.status, 401, `${method} ${p}`);
    }
    const authed = new WorkflowClient({ baseUrl: node.server.url, apiKey: key });
    await authed.registerWorkflow(NIGHTLY);
    assert.equal((await authed.listSchedules()).length, 1);
    const doc = (await (await node.fetch('/openapi.json')).json()) as { paths: Record<string, unknown> };
    for (const p of [
      '/v1/schedules',
      '/v1/schedules/{workflow}/{trigger}/pause',
      '/v1/schedules/{workflow}/{trigger}/resume',
    ]) {
      assert.ok(doc.paths[p], `openapi.json lacks ${p}`);
    }
  } finally {
    await node.server.close(2000);
  }
});
