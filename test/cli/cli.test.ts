/**
 * The CLI as a user runs it: a real process (`node src/cli/main.ts …`) talking to a real server over
 * SWITCHYARD_URL; exit codes, stdout and stderr are what is checked.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { parseInputs, stepLine } from '../../src/cli/run.ts';
import { SwitchyardClient } from '../../src/client/client.ts';
import { WorkflowClient } from '../../src/client/workflow-client.ts';
import type { Script } from '../../src/model/scripted-model.ts';
import type { StepView } from '../../src/workflow/workflow-api.ts';
import { GREET } from '../fixtures/greet-workflow.ts';
import { type Harness, startHarness, tempDir } from '../fixtures/harness.ts';

const MAIN = path.resolve(import.meta.dirname, '../../src/cli/main.ts');

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(
  args: string[],
  options: { url?: string; env?: Record<string, string>; cwd?: string } = {},
): Promise<Result> {
  const child = spawn(process.execPath, [MAIN, ...args], {
    cwd: options.cwd ?? process.cwd(),
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      ...(options.url ? { SWITCHYARD_URL: options.url } : {}),
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

const show = (r: Result) => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

function writeFile(dir: string, name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

async function withHarness(
  options: Parameters<typeof startHarness>[0],
  body: (h: Harness) => Promise<void>,
): Promise<void> {
  const h = await startHarness(options);
  try {
    await body(h);
  } finally {
    await h.close();
  }
}

test('exec streams progress and exits 0 on success', async () => {
  const script: Script = () => ({ text: 'all done here' });
  await withHarness({ script }, async (h) => {
    const r = await cli(['exec', 'say something'], { url: h.url });
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /all done here/);
    assert.match(r.stderr, /^task \S+ (queued|running)/m);
    assert.match(r.stderr, /· completed/);
  });
});

test('exec exits 1 when the task fails (a hanging model and --timeout 1500)', async () => {
  await withHarness({ script: () => ({ hang: true }) }, async (h) => {
    const r = await cli(['exec', 'never answers', '--timeout', '1500'], { url: h.url });
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /failed \(timeout\)/);
  });
});

test('tasks ls, show and wait', async () => {
  await withHarness({}, async (h) => {
    const client = new SwitchyardClient({ baseUrl: h.url });
    const task = await client.submit({ prompt: 'listed task' });
    const waited = await cli(['tasks', 'wait', task.id], { url: h.url });
    assert.equal(waited.code, 0, show(waited));
    assert.equal(JSON.parse(waited.stdout).status, 'completed');
    const ls = await cli(['tasks', 'ls'], { url: h.url });
    assert.equal(ls.code, 0, show(ls));
    assert.match(ls.stdout, new RegExp(`^${task.id}\\s+completed\\s.*listed task`, 'm'));
    const shown = await cli(['tasks', 'show', task.id], { url: h.url });
    assert.equal(shown.code, 0, show(shown));
    assert.equal(JSON.parse(shown.stdout).id, task.id);
    const missing = await cli(['tasks', 'show', 'nope'], { url: h.url });
    assert.equal(missing.code, 1, show(missing));
  });
});

test('validate: ok with the step count; an invalid file exits 1 naming file:line, step and field', async () => {
  const dir = tempDir();
  try {
    const good = await cli(['validate', writeFile(dir, 'greet.yaml', GREET)]);
    assert.equal(good.code, 0, show(good));
    assert.equal(good.stdout.trim(), 'ok: greet (2 steps)');

    const badFile = writeFile(dir, 'bad.yaml', GREET.replace('depends_on: [hello]', 'depends_on: [helo]'));
    const bad = await cli(['validate', badFile]);
    assert.equal(bad.code, 1, show(bad));
    assert.match(bad.stderr, new RegExp(`${badFile.replaceAll('.', '\\.')}:11: step "twice": depends_on\\[0\\]`));
    assert.match(bad.stderr, /did you mean "hello"/);
    assert.match(bad.stderr, /field: steps\.twice\.depends_on\[0\]/);

    const syntax = await cli(['validate', writeFile(dir, 'broken.yaml', 'name: [x\n')]);
    assert.equal(syntax.code, 1, show(syntax));
    assert.match(syntax.stderr, /broken\.yaml:\d+:\d+: YAML syntax error/);

    const missing = await cli(['validate', path.join(dir, 'nope.yaml')]);
    assert.equal(missing.code, 1, show(missing));
    assert.match(missing.stderr, /nope\.yaml: cannot read: ENOENT/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('run FILE --input k=v --wait: registers, prints a line per step, exits 0; inputs are JSON when they parse', async () => {
  const dir = tempDir();
  try {
    await withHarness({}, async (h) => {
      const file = writeFile(dir, 'greet.yaml', GREET);
      const r = await cli(['run', file, '--input', 'who=ada', '--input', 'n=3', '--wait'], { url: h.url });
      assert.equal(r.code, 0, show(r));
      assert.match(r.stderr, /workflow greet v1 registered/);
      assert.match(r.stderr, /^hello\s+completed( \d+ ms)?$/m);
      assert.match(r.stderr, /^twice\s+completed( \d+ ms)?$/m);
      assert.match(r.stdout, /^run \S+ completed/m);

      const client = new WorkflowClient({ baseUrl: h.url });
      const [run] = (await client.listRuns({ workflow: 'greet' })).items;
      assert.deepEqual(run!.inputs, { who: 'ada', n: 3 });
      assert.equal(run!.steps.find((s) => s.name === 'twice')?.output?.response, 'hello ada x3');

      // By name, without --wait: prints the run id at once; --input-json for structured values.
      const byName = await cli(['run', 'greet', '--input-json', '{"who": "bob"}'], { url: h.url });
      assert.equal(byName.code, 0, show(byName));
      const id = byName.stdout.trim().split(' ')[0]!;
      assert.equal((await client.waitRun(id)).status, 'completed');

      const badInput = await cli(['run', 'greet', '--input', 'who=7'], { url: h.url });
      assert.equal(badInput.code, 1, show(badInput));
      assert.match(badInput.stderr, /inputs\.who/);

      const ls = await cli(['workflows', 'ls'], { url: h.url });
      assert.match(ls.stdout, /^greet\s+v1\s+2 steps/m);
      const runs = await cli(['runs', '--workflow', 'greet'], { url: h.url });
      assert.equal(runs.stdout.trim().split('\n').length, 2, show(runs));
      const shown = await cli(['runs', 'show', id], { url: h.url });
      assert.match(shown.stdout, /^run \S+ completed/m);
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a failing run exits non-zero with the step error; dlq ls lists it', async () => {
  const service = http.createServer((_req, res) => {
    res.writeHead(500);
    res.end('down');
  });
  await new Promise<void>((resolve) => service.listen(0, '127.0.0.1', resolve));
  const { port } = service.address() as AddressInfo;
  const dir = tempDir();
  try {
    await withHarness({ env: { SWITCHYARD_HTTP_ALLOW: '127.0.0.1' } }, async (h) => {
      const file = writeFile(
        dir,
        'flaky.yaml',
        `name: flaky\nsteps:\n  fetch:\n    worker: http\n    url: "http://127.0.0.1:${port}/x"\n    retry: { max_attempts: 1 }\n`,
      );
      const r = await cli(['run', file, '--wait'], { url: h.url });
      assert.equal(r.code, 1, show(r));
      assert.match(r.stderr, /^fetch\s+failed http_status/m);
      assert.match(r.stdout, /^run \S+ failed/m);

      const dlq = await cli(['dlq', 'ls'], { url: h.url });
      assert.equal(dlq.code, 0, show(dlq));
      assert.match(dlq.stdout, /^\S+\s+open\s+flaky\/fetch\s+run \S+/m);
      assert.match(dlq.stdout, /http_status/);
      const id = dlq.stdout.split(/\s+/)[0]!;
      const discard = await cli(['dlq', 'discard', id], { url: h.url });
      assert.equal(discard.code, 0, show(discard));
      assert.match(discard.stdout, /discarded/);
    });
  } finally {
    service.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('usage errors exit 2; a bad --input exits 1 before any request', async () => {
  const unknown = await cli(['frobnicate']);
  assert.equal(unknown.code, 2, show(unknown));
  const badFlag = await cli(['run', 'x', '--wat']);
  assert.equal(badFlag.code, 2, show(badFlag));
  const badInput = await cli(['run', 'x', '--input', 'novalue'], { url: 'http://127.0.0.1:9' });
  assert.equal(badInput.code, 1, show(badInput));
  assert.match(badInput.stderr, /--input "novalue" must be key=value/);
});

test('--input values are JSON when they parse, else text; --input-json must be an object', () => {
  assert.deepEqual(parseInputs(['n=3', 'topic=rates', 'flag=true', 'list=[1,2]', 'eq=a=b', 'empty=']), {
    n: 3,
    topic: 'rates',
    flag: true,
    list: [1, 2],
    eq: 'a=b',
    empty: '',
  });
  assert.deepEqual(parseInputs(['n=4'], '{"n": 1, "deep": {"a": [1]}}'), { n: 4, deep: { a: [1] } });
  assert.throws(() => parseInputs(['=x']), /must be key=value/);
  assert.throws(() => parseInputs([], '[1]'), /--input-json must be a JSON object/);
  assert.throws(() => parseInputs([], '{'), /--input-json is not valid JSON/);
});

test('step lines: status, duration, the failed attempt, the item index', () => {
  assert.equal(stepLine({ step: 'step_1', status: 'running' }, undefined, 6), 'step_1  running');
  const view = {
    name: 'step_3',
    started_at: '2026-01-01T00:00:00.000Z',
    finished_at: '2026-01-01T00:00:00.120Z',
    errors: [{ kind: 'http_status' as const, message: 'GET /x answered 500', retryable: true, attempt: 1, at: '' }],
    attempts: 1,
  } as unknown as StepView;
  assert.equal(stepLine({ step: 'step_3', status: 'completed' }, view, 6), 'step_3  completed 120 ms');
  assert.equal(
    stepLine({ step: 'step_3', status: 'retry_wait', attempt: 1 }, view, 6),
    'step_3  retry_wait attempt 1 failed: http_status GET /x answered 500',
  );
  assert.equal(
    stepLine({
      step: 'step_6',
      item_index: 2,
      status: 'failed',
      error: { kind: 'timeout', message: 'took\ntoo long' },
    }),
    'step_6[2]  failed timeout: took too long',
  );
});
