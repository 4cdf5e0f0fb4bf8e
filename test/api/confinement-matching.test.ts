/**
 * Nothing a client or a model sends runs a backtracking regex or an unbounded parse on the event loop,
 * and a refused body still reaches its sender as an error. A real server, real Claude Code against the
 * scripted model, real sockets. Each attack sits beside the ordinary thing that must still work.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { after, before, test } from 'node:test';
import type { Script } from '../../src/model/scripted-model.ts';
import { type Harness, startHarness } from '../fixtures/harness.ts';

interface ErrorBody {
  error: { kind: string; message: string; field?: string };
}

// Each task's prompt picks its script: the tool calls to play, one per turn, then a final text.
const plans = new Map<string, Array<{ name: string; input: Record<string, unknown> }>>();
const script: Script = (req) => {
  const call = plans.get(req.prompt)?.[req.turnIndex];
  return call ? { tool_use: call } : { text: `finished: ${req.prompt}` };
};

let h: Harness;
before(async () => {
  h = await startHarness({ script });
});
after(() => h.close());

async function submit(body: Record<string, unknown>): Promise<Response> {
  return h.fetch('/v1/tasks', { method: 'POST', json: body });
}

interface Task {
  status: string;
  error?: unknown;
  result?: { structured_output?: unknown };
}

async function finished(res: Response): Promise<Task> {
  assert.equal(res.status, 201, await res.clone().text());
  const { id } = (await res.json()) as { id: string };
  return (await (await h.fetch(`/v1/tasks/${id}?wait=60`)).json()) as Task;
}

// picomatch's RegExp for this scope tries C(n, 12) ways to place the a's in an n-letter name: 30
// letters take half a second, 200 would take years, and the task's own timeout could never fire.
test('a backtracking-prone Read scope against a long file name: /health keeps answering and the scope still works', async () => {
  const scope = '*a*a*a*a*a*a*a*a*a*a*a*a*b';
  const long = 'a'.repeat(200);
  const admitted = `${'a'.repeat(12)}b`;
  fs.writeFileSync(path.join(h.workspace, long), 'not for the model');
  fs.writeFileSync(path.join(h.workspace, admitted), 'admitted-content-3');
  const prompt = 'glob attack';
  plans.set(prompt, [
    { name: 'Read', input: { file_path: path.join(h.workspace, long) } },
    { name: 'Read', input: { file_path: path.join(h.workspace, admitted) } },
  ]);

  const delay = monitorEventLoopDelay({ resolution: 20 });
  delay.enable();
  let running = true;
  const healthChecks: number[] = [];
  const poll = (async () => {
    while (running) healthChecks.push((await h.fetch('/health')).status);
  })();
  const task = await finished(await submit({ prompt, allowed_tools: [`Read(${scope})`] }));
  running = false;
  await poll;
  delay.disable();

  assert.equal(task.status, 'completed', JSON.stringify(task.error));
  const seen = h.model.requests.filter((r) => r.prompt === prompt).map((r) => r.lastUserText);
  assert.match(seen[1] ?? '', /outside the allowed scope/, 'the long name was refused');
  assert.doesNotMatch(seen[1] ?? '', /not for the model/);
  assert.match(seen[2] ?? '', /admitted-content-3/, 'a name the scope admits was read');
  assert.ok(healthChecks.length > 0 && healthChecks.every((s) => s === 200), String(healthChecks));
  // Seconds, not milliseconds: a generous ceiling that only a stalled loop (or a dying machine) exceeds.
  assert.ok(delay.max / 1e6 < 5000, `event loop held for ${delay.max / 1e6} ms`);
});

test("a task's output_schema pattern RE2 cannot run is a 400 naming output_schema; a linear one runs", async () => {
  for (const pattern of ['^(a)\\1$', '^(?=x)']) {
    const res = await submit({ prompt: 'x', output_schema: { type: 'string', pattern } });
    const body = (await res.json()) as ErrorBody;
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(body.error.field, 'output_schema');
    assert.match(body.error.message, /linear time/);
  }
  // Two tasks whose schemas share an $id: both accepted (one shared ajv used to refuse the second).
  const schema = {
    $id: 'https://example.test/issues',
    type: 'object',
    properties: { code: { type: 'string', pattern: '^[A-Z]+-\\d+$' } },
    required: ['code'],
  };
  const prompt = 'structured';
  plans.set(prompt, [{ name: 'StructuredOutput', input: { code: 'SW-6' } }]);
  const first = await finished(await submit({ prompt, output_schema: schema }));
  assert.equal(first.status, 'completed', JSON.stringify(first.error));
  assert.deepEqual(first.result?.structured_output, { code: 'SW-6' });
  const second = await submit({ prompt: 'same $id', output_schema: schema });
  assert.equal(second.status, 201, await second.clone().text());
  await finished(second);
});

function register(text: string): Promise<Response> {
  return h.fetch('/v1/workflows?filename=attack.yaml', {
    method: 'POST',
    body: text,
    headers: { 'content-type': 'application/yaml' },
  });
}

test('deep, wide and alias-bomb YAML definitions are refused by name and line; a normal one registers', async () => {
  const deepFlow = `name: deep\nsteps: ${'['.repeat(400_000)}${']'.repeat(400_000)}\n`;
  const deepBlock = `name: deep\nsteps:\n${Array.from({ length: 300 }, (_, i) => `${' '.repeat(i + 1)}a:`).join('\n')}\n`;
  const wide = `name: wide\nsteps: [${'1,'.repeat(400_000)}1]\n`;
  const laughs = ['name: bomb', 'a: &a [x, x, x, x, x, x, x, x, x, x]'];
  for (const [name, prev] of [
    ['b', 'a'],
    ['c', 'b'],
    ['d', 'c'],
    ['e', 'd'],
    ['f', 'e'],
  ]) {
    laughs.push(`${name}: &${name} [${Array(10).fill(`*${prev}`).join(', ')}]`);
  }
  laughs.push('steps: *f');
  for (const [text, message] of [
    [deepFlow, /^attack\.yaml:2: YAML is nested deeper than 64 levels/],
    [deepBlock, /^attack\.yaml:66: YAML is nested deeper than 64 levels/],
    [wide, /^attack\.yaml:2: YAML has more than 50000 entries/],
    [laughs.join('\n'), /^attack\.yaml: YAML error: .*alias/],
  ] as const) {
    const res = await register(text);
    const body = (await res.json()) as ErrorBody;
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(body.error.kind, 'validation');
    assert.match(body.error.message, message);
  }
  const normal = 'name: normal\nsteps:\n  hello:\n    worker: transform\n    template: "hi"\n';
  const res = await register(normal);
  assert.equal(res.status, 201, await res.clone().text());
});

/**
 * Sends a request the way Python's httpx and requests do: the whole body first, reading nothing until
 * it is written, then the response. A server that answers and closes mid-body resets the connection,
 * and such a client sees "Broken pipe" instead of the answer.
 */
async function sendAllThenRead(url: string, bodyBytes: number): Promise<string> {
  const { hostname, port } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.pause();
  const write = (data: string | Buffer) =>
    new Promise<void>((resolve, reject) => socket.write(data, (err) => (err ? reject(err) : resolve())));
  await write(
    `POST /v1/tasks HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\nContent-Length: ${bodyBytes}\r\n\r\n`,
  );
  const chunk = Buffer.alloc(64 * 1024, 'a');
  for (let sent = 0; sent < bodyBytes; sent += chunk.length) {
    await write(chunk.subarray(0, Math.min(chunk.length, bodyBytes - sent)));
  }
  const chunks: Buffer[] = [];
  socket.on('data', (data: Buffer) => {
    chunks.push(data);
    if (Buffer.concat(chunks).includes('}}')) socket.end();
  });
  socket.resume();
  await new Promise<void>((resolve, reject) => socket.once('close', () => resolve()).once('error', reject));
  return Buffer.concat(chunks).toString();
}

test('a body over the limit: a client still sending reads the 413; a body within it is served', async () => {
  const answer = await sendAllThenRead(h.url, 40 * 1024 * 1024);
  assert.match(answer, /^HTTP\/1\.1 413 /);
  const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as ErrorBody;
  assert.equal(body.error.kind, 'payload_too_large');
  const health = await h.fetch('/health');
  assert.equal(health.status, 200);
  const small = await submit({ prompt: 'x', timeout: -1 });
  assert.equal(small.status, 400, 'a body within the limit reaches validation');
});
