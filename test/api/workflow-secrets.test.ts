/**
 * Workflow secrets (`{{ secrets.NAME }}`): sent where the definition says, and nowhere else — not in
 * a step record, the DLQ, run events, the API, the log or any byte of the data dir. Registration
 * refuses a secret in a field that a model, an agent or a reviewer would see, an unknown one, and one
 * whose destination an input could choose. And a sandboxed agent sees neither the variables nor the file.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { AppError } from '../../src/errors.ts';
import { assertWorked, startBoundaryHarness } from '../fixtures/boundary-harness.ts';
import { startHarness, tempDir } from '../fixtures/harness.ts';
import { startLlmServer } from '../fixtures/llm-server.ts';
import { spawnServer } from '../fixtures/server-process.ts';
import { databaseText, type StoreLocation, storeOf, testBackend } from '../fixtures/test-backend.ts';
import { json, type Service, startService } from '../scenarios/kit.ts';

/** Characters a URL, a JSON string and a header each write differently: every form must be found. */
const TOKEN = 'Sy-"s3cr3t"/T0k3n+9=Z';
const FORMS = [TOKEN, encodeURIComponent(TOKEN), JSON.stringify(TOKEN).slice(1, -1)];
/** The part of the token no encoding changes: its absence means no form of it leaked at all. */
const CORE = 's3cr3t';

function assertNoSecret(text: string, where: string): void {
  for (const form of [...FORMS, CORE]) {
    assert.ok(!text.includes(form), `${where} holds the secret (as ${JSON.stringify(form)})`);
  }
}

/** Every file under dir, as bytes (the SQLite database, its WAL, transcripts …). */
function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).flatMap((e) => {
    if (!e.isFile()) return [];
    return [path.join(e.parentPath, e.name)];
  });
}

/** The data dir's every byte and, on PostgreSQL, the database's every row. */
async function assertStoredClean(where: StoreLocation): Promise<void> {
  const { dataDir } = where;
  const files = filesUnder(dataDir);
  if (testBackend() === 'sqlite') {
    assert.ok(
      files.some((f) => f.endsWith('.db') || f.includes('sqlite')),
      `no database under ${dataDir}`,
    );
  } else {
    const rows = await databaseText(where);
    assert.notEqual(rows, '', 'the database holds what the server wrote (the control)');
    assertNoSecret(rows, 'the database');
  }
  for (const file of files) {
    const bytes = fs.readFileSync(file);
    for (const form of [...FORMS, CORE]) {
      assert.equal(bytes.indexOf(form), -1, `${file} holds the secret (as ${JSON.stringify(form)})`);
    }
  }
}

/** A service that wants `Authorization: Bearer TOKEN` and echoes what it got; `/echo` fails its first call. */
async function echoService(): Promise<Service> {
  let echoCalls = 0;
  return startService((req, res) => {
    const echo = { path: req.path, headers: req.headers, body: req.body };
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return json(res, 401, { error: 'bad token' });
    if (req.path.startsWith('/echo/') && ++echoCalls === 1) {
      // An error page that quotes the request: the URL with the token in its path and query, and the header.
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`failed ${req.path} with ${JSON.stringify(echo)}`);
      return;
    }
    if (req.path.startsWith('/always-fails')) return json(res, 503, echo);
    return json(res, 200, echo);
  });
}

const WORKFLOW = (api: string) => `
name: secret-echo
steps:
  call:
    worker: http
    method: POST
    url: "${api}/echo/{{ secrets.API_TOKEN }}?q={{ secrets.API_TOKEN }}"
    headers:
      Authorization: "Bearer {{ secrets.API_TOKEN }}"
      X-Plain: "{{ secrets.API_TOKEN }}"
    body: {token: "{{ secrets.API_TOKEN }}", note: "sent {{ secrets.API_TOKEN }} here"}
    retry: {max_attempts: 2, backoff: {initial: 0}}
  show:
    worker: transform
    depends_on: [call]
    template: "the service said {{ call.response }}"
  dead:
    worker: http
    url: "${api}/always-fails?q={{ secrets.API_TOKEN }}"
    headers: {Authorization: "Bearer {{ secrets.API_TOKEN }}"}
    retry: {max_attempts: 1}
`;

test('a secret reaches the service and nothing else: step records, DLQ, events, API, logs and data dir', async (t) => {
  const api = await echoService();
  const root = tempDir();
  const dataDir = path.join(root, 'data');
  const workspace = path.join(root, 'workspace');
  fs.mkdirSync(workspace);
  const server = await spawnServer({
    SWITCHYARD_DATA_DIR: dataDir,
    SWITCHYARD_WORKSPACE_ROOTS: workspace,
    SWITCHYARD_HTTP_ALLOW: '127.0.0.1',
    SWITCHYARD_LOG_LEVEL: 'debug',
    SWITCHYARD_WARM: '0',
    SWITCHYARD_SECRET_API_TOKEN: TOKEN,
  });
  t.after(async () => {
    if (server.child.exitCode === null) server.child.kill('SIGKILL');
    await server.exited;
    await api.close();
    fs.rmSync(root, { recursive: true, force: true });
  });
  const get = async (p: string) => {
    const res = await fetch(`${server.url}${p}`);
    const text = await res.text();
    assert.equal(res.status, 200, `${p}: ${text}`);
    return text;
  };

  const registered = await fetch(`${server.url}/v1/workflows`, {
    method: 'POST',
    headers: { 'content-type': 'application/yaml' },
    body: WORKFLOW(api.url),
  });
  assert.equal(registered.status, 201, await registered.clone().text());
  const started = await fetch(`${server.url}/v1/workflows/secret-echo/runs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  assert.equal(started.status, 201, await started.clone().text());
  const { id } = (await started.json()) as { id: string };
  const runText = await get(`/v1/runs/${id}?wait=60`);
  const run = JSON.parse(runText);
  assert.equal(run.status, 'failed', runText);

  // The service got the token in every form the definition asked for.
  const calls = api.requests.filter((r) => r.path.startsWith('/echo/'));
  assert.equal(calls.length, 2, 'the first call failed and was retried');
  for (const call of calls) {
    assert.equal(call.headers.authorization, `Bearer ${TOKEN}`);
    assert.equal(call.headers['x-plain'], TOKEN);
    assert.equal(call.path, `/echo/${encodeURIComponent(TOKEN)}?q=${encodeURIComponent(TOKEN)}`);
    assert.deepEqual(JSON.parse(call.body), { token: TOKEN, note: `sent ${TOKEN} here` });
  }

  // What the API shows: the run, each step (inputs, output, errors), the events, the DLQ.
  const steps = Object.fromEntries(run.steps.map((s: { name: string }) => [s.name, s]));
  assert.equal(steps.call.status, 'completed');
  assert.match(JSON.stringify(steps.call), /\[redacted\]/);
  assert.match(steps.call.errors[0].message, /answered 500/);
  assert.match(steps.show.output.response, /\[redacted\]/, 'the echo reached the next step redacted');
  assert.equal(steps.dead.status, 'failed');
  const events = await get(`/v1/runs/${id}/events`);
  assert.match(events, /answered 503/);
  const dlq = JSON.parse(await get('/v1/dlq'));
  assert.equal(dlq.items.length, 1);
  const entry = await get(`/v1/dlq/${dlq.items[0].id}`);
  const { inputs } = JSON.parse(entry) as { inputs: { url: string; headers: Record<string, string> } };
  assert.equal(inputs.url, `${api.url}/always-fails?q=[redacted]`);
  assert.equal(inputs.headers.Authorization, '[redacted]');
  for (const [where, text] of [
    ['the run', runText],
    ['the events', events],
    ['the DLQ list', JSON.stringify(dlq)],
    ['the DLQ entry', entry],
    ['the runs list', await get('/v1/runs')],
    ['the workflow', await get('/v1/workflows/secret-echo')],
    ['/health', await get('/health')],
  ] as const) {
    assertNoSecret(text, where);
  }

  // Every byte the server wrote, while running (the WAL) and after a clean stop, and its whole log.
  await assertStoredClean(await storeOf(dataDir));
  server.child.kill('SIGTERM');
  await server.exited;
  await assertStoredClean(await storeOf(dataDir));
  assert.match(server.stdout(), /"level"/, 'the log was captured');
  assertNoSecret(server.stdout(), 'the log (stdout)');
  assertNoSecret(server.stderr(), 'stderr');
});

test('an http step that sends a secret follows no redirect to another origin', async (t) => {
  const elsewhere = await startService((_req, res) => json(res, 200, { ok: true }));
  const api = await startService((_req, res) => {
    res.writeHead(307, { location: `${elsewhere.url}/collect` }).end();
  });
  const h = await startHarness({ env: { SWITCHYARD_HTTP_ALLOW: '127.0.0.1', SWITCHYARD_SECRET_API_TOKEN: TOKEN } });
  t.after(async () => {
    await h.close();
    await api.close();
    await elsewhere.close();
  });
  const wf = h.server.workflows;
  await wf.registerWorkflow(`
name: redirected
steps:
  send:
    worker: http
    url: "${api.url}/submit"
    body: {token: "{{ secrets.API_TOKEN }}"}
    headers: {X-Custom: "{{ secrets.API_TOKEN }}"}
    retry: {max_attempts: 1}
`);
  const { run } = await wf.startRun('redirected', {});
  const done = await wf.waitRun(run.id, 30_000);
  assert.equal(done.status, 'failed');
  const step = done.steps.find((s) => s.name === 'send')!;
  assert.equal(step.error?.kind, 'permission_denied');
  assert.match(step.error?.message ?? '', /redirected to another origin/);
  assert.equal(elsewhere.requests.length, 0, 'the body and headers went to the other origin');
  // The control: the same redirect without a secret is followed.
  await wf.registerWorkflow(`
name: redirected-plain
steps:
  send: {worker: http, url: "${api.url}/submit", body: {token: "public"}, retry: {max_attempts: 1}}
`);
  const plain = await wf.startRun('redirected-plain', {});
  assert.equal((await wf.waitRun(plain.run.id, 30_000)).status, 'completed');
  assert.equal(elsewhere.requests.length, 1);
});

test('a run input that spells {{ secrets.API_TOKEN }} is sent as that text: values are never templates', async (t) => {
  const api = await startService((req, res) => json(res, 200, { got: req.body }));
  const h = await startHarness({ env: { SWITCHYARD_HTTP_ALLOW: '127.0.0.1', SWITCHYARD_SECRET_API_TOKEN: TOKEN } });
  t.after(async () => {
    await h.close();
    await api.close();
  });
  const wf = h.server.workflows;
  await wf.registerWorkflow(`
name: injected
inputs: {q: {type: string}}
steps:
  send:
    worker: http
    url: "${api.url}/search"
    headers: {Authorization: "Bearer {{ secrets.API_TOKEN }}"}
    body: {q: "{{ inputs.q }}"}
`);
  const { run } = await wf.startRun('injected', { q: '{{ secrets.API_TOKEN }}' });
  assert.equal((await wf.waitRun(run.id, 30_000)).status, 'completed');
  assert.deepEqual(JSON.parse(api.requests[0]!.body), { q: '{{ secrets.API_TOKEN }}' });
});

test('registration refuses secrets where they would be seen, unknown secrets, and a host an input picks', async (t) => {
  const h = await startHarness({ env: { SWITCHYARD_SECRET_API_TOKEN: TOKEN } });
  t.after(() => h.close());
  const register = async (steps: string, inputs = '') => {
    const res = await h.fetch('/v1/workflows', {
      method: 'POST',
      headers: { 'content-type': 'application/yaml' },
      body: `name: refused\n${inputs}steps:\n${steps}`,
    });
    const body = (await res.json()) as { error: { kind: string; message: string; field: string } };
    assert.equal(res.status, 400, JSON.stringify(body));
    assertNoSecret(JSON.stringify(body), 'the error');
    return body.error;
  };
  const refusals: Array<[string, string, RegExp]> = [
    [
      '  review: {worker: claude, prompt: "Review with {{ secrets.API_TOKEN }}"}',
      'steps.review.prompt',
      /secrets cannot be rendered into a claude prompt: the agent and the step record would see them/,
    ],
    [
      '  ask: {worker: llm, prompt: "hi", system: "key {{ secrets.API_TOKEN }}"}',
      'steps.ask.system',
      /secrets cannot be rendered into an llm system: the model/,
    ],
    ['  ask: {worker: llm, prompt: "{{ secrets.API_TOKEN }}"}', 'steps.ask.prompt', /into an llm prompt/],
    [
      '  t: {worker: transform, template: "{{ secrets.API_TOKEN }}"}',
      'steps.t.template',
      /secrets cannot be rendered into a transform template/,
    ],
    [
      '  ok: {worker: approval, message: "Approve {{ secrets.API_TOKEN }}?"}',
      'steps.ok.message',
      /secrets cannot be rendered into an approval message: the reviewer/,
    ],
    [
      '  each: {worker: transform, for_each: "{{ secrets.API_TOKEN }}", template: "x"}',
      'steps.each.for_each',
      /secrets cannot be rendered into a transform for_each/,
    ],
    [
      '  call: {worker: http, url: "https://api.example.com/", headers: {Authorization: "Bearer {{ secrets.NOPE }}"}}',
      'steps.call.headers.Authorization',
      /names the secret NOPE, which is not set: set SWITCHYARD_SECRET_NOPE or add NOPE=… to SWITCHYARD_SECRETS_FILE/,
    ],
    // A filter could cut the secret into pieces too short to redact; a capture could hide it in a variable.
    [
      '  call: {worker: http, url: "https://api.example.com/?k={{ secrets.API_TOKEN | slice: 0, 4 }}"}',
      'steps.call.url',
      /must render a secret as \{\{ secrets.NAME \}\} alone/,
    ],
    [
      '  call: {worker: http, url: "https://api.example.com/", body: "{% capture k %}{{ secrets.API_TOKEN }}{% endcapture %}{{ k | upcase }}"}',
      'steps.call.body',
      /alone: no filters, tags, captures/,
    ],
    [
      '  call: {worker: http, url: "https://api.example.com/", headers: {X: "{{ secrets[\'API_TOKEN\'] }}"}}',
      'steps.call.headers.X',
      /alone/,
    ],
    // Where a secret is sent, no input may choose the host.
    [
      '  call: {worker: http, url: "https://{{ inputs.host }}/x", headers: {Authorization: "Bearer {{ secrets.API_TOKEN }}"}}',
      'steps.call.url',
      /must name its scheme and host literally/,
    ],
    [
      '  call: {worker: http, url: "https://api.example.com{{ secrets.API_TOKEN }}/x"}',
      'steps.call.url',
      /must name its scheme and host literally/,
    ],
    [
      '  ask: {worker: llm, prompt: "hi", api_key: "sk-literal-key-in-the-file"}',
      'steps.ask.api_key',
      /must be \{\{ secrets.NAME \}\}/,
    ],
    ['  secrets: {worker: transform, template: "x"}', 'steps.secrets', /reserved name/],
  ];
  for (const [steps, field, message] of refusals) {
    const error = await register(steps, 'inputs: {host: {type: string}}\n');
    assert.equal(error.field, field, `${steps}\n→ ${error.message}`);
    assert.match(error.message, message, steps);
  }
  // The controls: the same secret where it belongs is accepted.
  await h.server.workflows.registerWorkflow(`
name: accepted
inputs: {path: {type: string}}
steps:
  call:
    worker: http
    url: "https://api.example.com/{{ inputs.path }}?k={{ secrets.API_TOKEN }}"
    headers: {Authorization: "Bearer {{secrets.API_TOKEN}}"}
    body: "{\\"token\\": \\"{{- secrets.API_TOKEN -}}\\"}"
  ask: {worker: llm, prompt: "hi", api_key: "{{ secrets.API_TOKEN }}"}
`);
  // The CLI's offline validation knows no server secrets; the server refuses a secret removed since.
  assert.throws(
    () =>
      h.server.workflows.validateWorkflow(
        'name: x\nsteps:\n  ask: {worker: llm, prompt: "hi", api_key: "{{ secrets.GONE }}"}\n',
        'x.yaml',
      ),
    (err: AppError) =>
      err.field === 'steps.ask.api_key' && /^x\.yaml: steps.ask.api_key names the secret GONE/.test(err.message),
  );
});

test('an llm step api_key reaches the provider as its key, and the record shows it redacted', async (t) => {
  const llm = await startLlmServer([
    { text: 'compatible reply' },
    { text: 'anthropic reply' },
    { status: 401, error: `invalid key ${TOKEN}` },
  ]);
  const h = await startHarness({ env: { SWITCHYARD_HTTP_ALLOW: '127.0.0.1', SWITCHYARD_SECRET_LLM_KEY: TOKEN } });
  t.after(async () => {
    await h.close();
    await llm.close();
  });
  const wf = h.server.workflows;
  await wf.registerWorkflow(`
name: keyed
steps:
  compatible:
    worker: llm
    provider: openai-compatible
    base_url: "${llm.url}/v1"
    model: test-model
    prompt: "hello"
    api_key: "{{ secrets.LLM_KEY }}"
  anthropic:
    worker: llm
    depends_on: [compatible]
    provider: anthropic
    base_url: "${llm.url}"
    model: claude-test
    prompt: "hello again"
    api_key: "{{ secrets.LLM_KEY }}"
  rejected:
    worker: llm
    depends_on: [anthropic]
    provider: openai-compatible
    base_url: "${llm.url}/v1"
    model: test-model
    prompt: "once more"
    api_key: "{{ secrets.LLM_KEY }}"
    retry: {max_attempts: 1}
`);
  const { run } = await wf.startRun('keyed', {});
  const done = await wf.waitRun(run.id, 30_000);
  const status = Object.fromEntries(done.steps.map((s) => [s.name, s.status]));
  assert.deepEqual(status, { compatible: 'completed', anthropic: 'completed', rejected: 'failed' });
  assert.equal(llm.requests[0]!.headers.authorization, `Bearer ${TOKEN}`);
  assert.equal(llm.requests[1]!.headers['x-api-key'], TOKEN);
  assert.equal(llm.requests[2]!.headers.authorization, `Bearer ${TOKEN}`);
  const [entry] = (await wf.listDlq({ limit: 10 })).items;
  assert.equal(entry?.inputs.api_key, '[redacted]');
  assert.match(entry?.errors[0]?.message ?? '', /rejected the API key \(401\)/);
  assertNoSecret(JSON.stringify([done, entry, await wf.runEvents(run.id, 0)]), 'the run, its DLQ entry and events');
  await assertStoredClean(h.config);
});

test('a sandboxed agent sees no SWITCHYARD_SECRET_* variable and cannot read the secrets file', async (t) => {
  const dir = tempDir('switchyard-secrets-file-');
  const file = path.join(dir, 'secrets.env');
  fs.writeFileSync(file, `FILE_TOKEN=${TOKEN}-from-file\n`, { mode: 0o600 });
  const h = await startBoundaryHarness({
    SWITCHYARD_SANDBOX: 'required',
    SWITCHYARD_SECRET_API_TOKEN: TOKEN,
    SWITCHYARD_SECRETS_FILE: file,
  });
  t.after(async () => {
    await h.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  assert.deepEqual(h.config.secrets.names(), ['API_TOKEN', 'FILE_TOKEN']);
  fs.writeFileSync(path.join(h.workspace, 'inside.txt'), 'inside-content-3');
  // Unscoped Bash: the gate lets `cat` read anywhere, so only the sandbox stands between it and the file.
  const run = await h.run({ prompt: 'secrets', allowed_tools: ['Bash'] }, [
    { name: 'Bash', input: { command: `cat inside.txt ${file} 2>&1; true` } },
    { name: 'Bash', input: { command: 'env; cat /proc/self/environ 2>&1; true' } },
  ]);
  const [cat, env] = run.outcomes;
  assertWorked(cat!, /inside-content-3/);
  assert.match(cat!.text, /No such file or directory/);
  assertWorked(env!, /PATH=/);
  assert.ok(!env!.text.includes('SWITCHYARD_SECRET'), 'a SWITCHYARD_SECRET_* variable reached the agent');
  for (const outcome of run.outcomes) assertNoSecret(outcome.text, `${outcome.input.command}`);
});

test('without the sandbox too, Claude Code gets no SWITCHYARD_SECRET_* variable: its environment is an allow-list', async (t) => {
  const h = await startBoundaryHarness({ SWITCHYARD_SANDBOX: 'off', SWITCHYARD_SECRET_API_TOKEN: TOKEN });
  t.after(() => h.close());
  const run = await h.run({ prompt: 'env', allowed_tools: ['Bash'] }, [{ name: 'Bash', input: { command: 'env' } }]);
  const [env] = run.outcomes;
  assertWorked(env!, /PATH=/);
  assert.ok(!env!.text.includes('SWITCHYARD_SECRET'), 'a SWITCHYARD_SECRET_* variable reached the agent');
  assertNoSecret(env!.text, 'the agent environment');
});
