/**
 * The workflow API over real HTTP: definitions, runs (long-poll, SSE, cancel, approvals, rerun) and
 * the dead-letter queue, against a real server with the real engine. HTTP steps call a stand-in
 * service on loopback (SWITCHYARD_HTTP_ALLOW=127.0.0.1).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { type Run, type RunStreamEvent, WorkflowClient } from '../../src/client/workflow-client.ts';
import { GREET } from '../fixtures/greet-workflow.ts';
import { type Harness, startHarness } from '../fixtures/harness.ts';

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

/** A workflow whose only step calls `url` once (no retries), so a 500 dead-letters it at once. */
const calling = (name: string, url: string) => `name: ${name}
steps:
  fetch:
    worker: http
    url: "${url}"
    retry: { max_attempts: 1 }
`;

interface ErrorBody {
  error: { kind: string; message: string; field?: string };
}

async function json<T = Record<string, any>>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

/** Asserts a 4xx `{error}` naming `field`. */
async function rejects(res: Response | Promise<Response>, status: number, field?: string): Promise<ErrorBody> {
  const r = await res;
  const body = await json<ErrorBody>(r);
  assert.equal(r.status, status, JSON.stringify(body));
  if (field !== undefined) assert.equal(body.error.field, field, JSON.stringify(body));
  return body;
}

function register(h: Harness, text: string, contentType = 'application/yaml', query = '') {
  return h.fetch(`/v1/workflows${query}`, { method: 'POST', body: text, headers: { 'content-type': contentType } });
}

function start(h: Harness, workflow: string, body: unknown, headers: Record<string, string> = {}) {
  return h.fetch(`/v1/workflows/${workflow}/runs`, { method: 'POST', json: body, headers });
}

/** Reads the run's events until `until` matches one (then stops) or the stream ends. */
async function eventsUntil(
  client: WorkflowClient,
  id: string,
  until: (e: RunStreamEvent) => boolean = () => false,
): Promise<RunStreamEvent[]> {
  const seen: RunStreamEvent[] = [];
  const abort = new AbortController();
  try {
    for await (const e of client.runEvents(id, { signal: abort.signal })) {
      seen.push(e);
      if (until(e)) break;
    }
  } finally {
    abort.abort();
  }
  return seen;
}

const stepStatus = (e: RunStreamEvent) => e.data as { step?: string; name?: string; status?: string };

/** A stand-in HTTP service on loopback; `status` decides each answer. */
async function standIn(status: () => number): Promise<{ url: string; hits: number; close(): Promise<void> }> {
  const state = { hits: 0 };
  const server = http.createServer((_req, res) => {
    state.hits++;
    res.writeHead(status(), { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ok: true }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/item`,
    get hits() {
      return state.hits;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

test('register YAML and JSON; list, read, schema; a repeat is 200, a change bumps the version', async () => {
  const h = await startHarness();
  try {
    const created = await register(h, GREET);
    assert.equal(created.status, 201);
    const summary = await json(created);
    assert.equal(summary.name, 'greet');
    assert.equal(summary.version, 1);
    assert.equal(summary.source, 'api');
    assert.deepEqual(Object.keys(summary.definition.steps), ['hello', 'twice']);

    const again = await register(h, GREET, 'text/yaml; charset=utf-8');
    assert.equal(again.status, 200);
    assert.equal((await json(again)).version, 1, 'an unchanged definition keeps its version');
    const changed = await register(h, GREET.replace('hello {{', 'hi {{'), 'text/plain');
    assert.equal(changed.status, 200);
    assert.equal((await json(changed)).version, 2);

    const asJson = JSON.stringify({ name: 'one-step', steps: { only: { worker: 'transform', template: 'x' } } });
    const fromJson = await register(h, asJson, 'application/json');
    assert.equal(fromJson.status, 201, await fromJson.clone().text());
    assert.equal((await json(fromJson)).name, 'one-step');

    const list = await json<{ items: Array<{ name: string }> }>(await h.fetch('/v1/workflows'));
    assert.deepEqual(list.items.map((w) => w.name).sort(), ['greet', 'one-step']);
    const one = await json(await h.fetch('/v1/workflows/greet'));
    assert.equal(one.version, 2);
    assert.equal(one.definition.steps.hello.template, 'hi {{ inputs.who }}');
    await rejects(h.fetch('/v1/workflows/nope'), 404);

    const schema = await json(await h.fetch('/v1/workflows/schema.json'));
    assert.equal(schema.title, 'Switchyard workflow');
    assert.match(String(schema.$schema), /2020-12/);

    const doc = await json(await h.fetch('/openapi.json'));
    for (const p of ['/v1/workflows', '/v1/workflows/{name}/runs', '/v1/runs/{id}/events', '/v1/dlq/{id}/retry']) {
      assert.ok(doc.paths[p], `openapi.json lacks ${p}`);
    }
  } finally {
    await h.close();
  }
});

test('invalid definitions are a 400 naming file, line, step and field; never stored', async () => {
  const h = await startHarness();
  try {
    const badDep = await rejects(
      register(
        h,
        GREET.replace('depends_on: [hello]', 'depends_on: [helo]'),
        'application/yaml',
        '?filename=greet.yaml',
      ),
      400,
      'steps.twice.depends_on[0]',
    );
    assert.equal(badDep.error.kind, 'validation');
    assert.match(badDep.error.message, /^greet\.yaml:\d+: step "twice"/);
    assert.match(badDep.error.message, /did you mean "hello"/);

    const unknownKey = await rejects(
      register(h, GREET.replace('template: "hello', 'depend_on: []\n    template: "hello')),
      400,
      'steps.hello.depend_on',
    );
    assert.match(unknownKey.error.message, /did you mean "depends_on"/);
    const syntax = await rejects(register(h, 'name: [unclosed\nsteps: {'), 400, 'body');
    assert.equal(syntax.error.kind, 'validation');
    assert.match(syntax.error.message, /YAML syntax error/);
    await rejects(register(h, '{"name": "x", "steps": ', 'application/json'), 400, 'body');
    await rejects(register(h, '   '), 400, 'body');
    await rejects(register(h, GREET, 'application/xml'), 400, 'Content-Type');
    await rejects(register(h, GREET, 'application/yaml', '?filename=a%2Fb.yaml'), 400, 'filename');
    await rejects(register(h, `${'['.repeat(20_000)}${']'.repeat(20_000)}`, 'application/json'), 400);

    const list = await json<{ items: unknown[] }>(await h.fetch('/v1/workflows'));
    assert.equal(list.items.length, 0);
  } finally {
    await h.close();
  }
});

test('start a run with inputs; long-poll to the end; bad inputs and bodies are 400 naming the field', async () => {
  const h = await startHarness();
  try {
    assert.equal((await register(h, GREET)).status, 201);
    const res = await start(h, 'greet', { inputs: { who: 'ada' } });
    assert.equal(res.status, 201, await res.clone().text());
    const run = await json<Run>(res);
    assert.equal(run.run_id, run.id);
    assert.equal(run.workflow, 'greet');
    assert.deepEqual(run.inputs, { who: 'ada', n: 2 }, 'defaults applied');

    const done = await json<Run>(await h.fetch(`/v1/runs/${run.id}?wait=30`));
    assert.equal(done.status, 'completed', JSON.stringify(done.error));
    assert.equal(done.run_id, run.id);
    const out = Object.fromEntries(done.steps.map((s) => [s.name, s.output?.response]));
    assert.deepEqual(out, { hello: 'hello ada', twice: 'hello ada x2' });
    assert.ok(done.steps.every((s) => s.status === 'completed' && s.attempts === 1));

    await rejects(start(h, 'greet', { inputs: { who: 3 } }), 400, 'inputs.who');
    await rejects(start(h, 'greet', { inputs: {} }), 400, 'inputs.who');
    await rejects(start(h, 'greet', { inputs: { who: 'x', x: 1 } }), 400, 'inputs.x');
    await rejects(start(h, 'greet', { inputs: ['who'] }), 400, 'inputs');
    await rejects(start(h, 'greet', { inputs: { who: 'x' }, priority: 1 }), 400, 'priority');
    await rejects(start(h, 'greet', [1]), 400, 'body');
    await rejects(
      h.fetch('/v1/workflows/greet/runs', {
        method: 'POST',
        body: '{"inputs": ',
        headers: { 'content-type': 'application/json' },
      }),
      400,
      'body',
    );
    await rejects(start(h, 'nope', { inputs: {} }), 404);
    await rejects(h.fetch('/v1/runs/nope'), 404);
    for (const wait of ['-1', '301', 'soon']) await rejects(h.fetch(`/v1/runs/${run.id}?wait=${wait}`), 400, 'wait');
  } finally {
    await h.close();
  }
});

test('Idempotency-Key: the same key returns the same run (200); another body is a 409', async () => {
  const h = await startHarness();
  try {
    await register(h, GREET);
    const key = { 'idempotency-key': 'nightly-2026-11-26' };
    const first = await start(h, 'greet', { inputs: { who: 'ada' } }, key);
    assert.equal(first.status, 201);
    const again = await start(h, 'greet', { inputs: { who: 'ada' } }, key);
    assert.equal(again.status, 200);
    assert.equal((await json(again)).run_id, (await json(first)).run_id);
    await rejects(start(h, 'greet', { inputs: { who: 'bob' } }, key), 409);
    await rejects(start(h, 'greet', { inputs: { who: 'ada' } }, { 'idempotency-key': 'é' }), 400, 'Idempotency-Key');
  } finally {
    await h.close();
  }
});

test('list runs: newest first, by workflow and status, cursor pages; bad query parameters are 400', async () => {
  const h = await startHarness();
  try {
    const client = new WorkflowClient({ baseUrl: h.url });
    await register(h, GREET);
    await register(h, GATED);
    const ids: string[] = [];
    for (const who of ['a', 'b', 'c']) ids.push((await client.startRun('greet', { who })).id);
    for (const id of ids) assert.equal((await client.waitRun(id)).status, 'completed');
    const gated = await client.startRun('gated');

    const greet = await client.listRuns({ workflow: 'greet', limit: 2 });
    assert.deepEqual(
      greet.items.map((r) => r.id),
      [ids[2], ids[1]],
    );
    assert.ok(greet.items.every((r) => r.run_id === r.id));
    const rest = await client.listRuns({ workflow: 'greet', limit: 2, cursor: greet.next_cursor! });
    assert.deepEqual(
      rest.items.map((r) => r.id),
      [ids[0]],
    );
    assert.equal(rest.next_cursor, null);
    assert.equal((await client.listRuns({ status: 'completed' })).items.length, 3);
    const all = await client.listRuns();
    assert.equal(all.items[0]!.id, gated.id);

    await rejects(h.fetch('/v1/runs?status=done'), 400, 'status');
    await rejects(h.fetch('/v1/runs?limit=0'), 400, 'limit');
    await rejects(h.fetch('/v1/runs?limit=many'), 400, 'limit');
    await rejects(h.fetch('/v1/runs?cursor=abc'), 400, 'cursor');
    await rejects(h.fetch('/v1/runs?workflow=no%20such%20name'), 400, 'workflow');
    await client.cancelRun(gated.id);
  } finally {
    await h.close();
  }
});

test('SSE: run and step events with ids, ending after the terminal run event; resumes after Last-Event-ID', async () => {
  const h = await startHarness();
  try {
    const client = new WorkflowClient({ baseUrl: h.url });
    await register(h, GREET);
    const run = await client.startRun('greet', { who: 'ada' });
    const all = await eventsUntil(client, run.id);
    assert.deepEqual(
      all.map((e) => e.id),
      all.map((_, i) => i + 1),
    );
    const last = all.at(-1)!;
    assert.equal(last.type, 'run');
    assert.equal((last.data as { status: string }).status, 'completed');
    const completedSteps = all
      .filter((e) => e.type === 'step' && stepStatus(e).status === 'completed')
      .map((e) => stepStatus(e).step ?? stepStatus(e).name);
    assert.deepEqual(completedSteps, ['hello', 'twice']);

    // Resume mid-stream: exactly the rest, no gaps or repeats; resuming after the end ends at once.
    const resumed: RunStreamEvent[] = [];
    for await (const e of client.runEvents(run.id, { afterId: 2 })) resumed.push(e);
    assert.deepEqual(
      resumed.map((e) => e.id),
      all.slice(2).map((e) => e.id),
    );
    const none: RunStreamEvent[] = [];
    for await (const e of client.runEvents(run.id, { afterId: last.id })) none.push(e);
    assert.equal(none.length, 0);

    await rejects(h.fetch(`/v1/runs/${run.id}/events`, { headers: { 'last-event-id': 'x' } }), 400, 'Last-Event-ID');
    await rejects(h.fetch('/v1/runs/nope/events'), 404);
  } finally {
    await h.close();
  }
});

test('approval steps: approve completes the run, reject fails it, cancel ends a waiting run', async () => {
  const h = await startHarness();
  try {
    const client = new WorkflowClient({ baseUrl: h.url });
    await register(h, GATED);
    const awaiting = (e: RunStreamEvent) => e.type === 'step' && stepStatus(e).status === 'awaiting_approval';

    const approved = await client.startRun('gated');
    await eventsUntil(client, approved.id, awaiting);
    assert.equal((await client.getRun(approved.id)).status, 'awaiting_approval');
    await rejects(
      h.fetch(`/v1/runs/${approved.id}/steps/review/approve`, { method: 'POST', json: { comments: 'typo' } }),
      400,
      'comments',
    );
    await rejects(
      h.fetch(`/v1/runs/${approved.id}/steps/review/approve`, { method: 'POST', json: { comment: 42 } }),
      400,
      'comment',
    );
    await client.approve(approved.id, 'review', 'ship it');
    const done = await client.waitRun(approved.id);
    assert.equal(done.status, 'completed');
    assert.equal(done.steps.find((s) => s.name === 'publish')?.output?.response, 'published');

    const rejected = await client.startRun('gated');
    await eventsUntil(client, rejected.id, awaiting);
    await client.reject(rejected.id, 'review', 'not yet');
    const no = await client.waitRun(rejected.id);
    assert.equal(no.status, 'failed');
    assert.equal(no.steps.find((s) => s.name === 'publish')?.status, 'skipped');

    const cancelled = await client.startRun('gated');
    await eventsUntil(client, cancelled.id, awaiting);
    const res = await h.fetch(`/v1/runs/${cancelled.id}/cancel`, { method: 'POST' });
    assert.equal(res.status, 200);
    const after = await client.waitRun(cancelled.id);
    assert.equal(after.status, 'failed');
    assert.equal(after.error?.kind, 'cancelled');
    await rejects(h.fetch('/v1/runs/nope/cancel', { method: 'POST' }), 404);
  } finally {
    await h.close();
  }
});

test('DLQ: a step that fails for good is listed with its error; retry redrives it, discard closes it', async () => {
  let status = 500;
  const service = await standIn(() => status);
  const h = await startHarness({ env: { SWITCHYARD_HTTP_ALLOW: '127.0.0.1' } });
  try {
    const client = new WorkflowClient({ baseUrl: h.url });
    assert.equal((await register(h, calling('flaky', service.url))).status, 201);

    const first = await client.startRun('flaky');
    const failed = await client.waitRun(first.id);
    assert.equal(failed.status, 'failed');
    assert.equal(failed.steps[0]!.error?.kind, 'http_status');

    const page = await json<{ items: Array<Record<string, any>>; next_cursor: string | null }>(
      await h.fetch('/v1/dlq?status=open'),
    );
    assert.equal(page.items.length, 1);
    const entry = page.items[0]!;
    assert.equal(entry.run_id, first.id);
    assert.equal(entry.workflow, 'flaky');
    assert.equal(entry.step, 'fetch');
    assert.equal(entry.status, 'open');
    assert.equal(entry.errors[0].kind, 'http_status');
    const shown = await json(await h.fetch(`/v1/dlq/${entry.id}`));
    assert.equal(shown.id, entry.id);
    assert.equal(shown.inputs.url, service.url);

    // The service recovers; the redrive resumes the run from that step.
    status = 200;
    const retried = await json<Run>(await h.fetch(`/v1/dlq/${entry.id}/retry`, { method: 'POST' }));
    assert.equal(retried.run_id, first.id);
    assert.equal((await client.waitRun(first.id)).status, 'completed');
    assert.equal((await client.getDlq(entry.id)).status, 'retried');

    status = 500;
    const second = await client.startRun('flaky');
    assert.equal((await client.waitRun(second.id)).status, 'failed');
    const open = await client.listDlq({ status: 'open' });
    assert.equal(open.items.length, 1);
    const discarded = await json(await h.fetch(`/v1/dlq/${open.items[0]!.id}/discard`, { method: 'POST' }));
    assert.equal(discarded.status, 'discarded');
    assert.equal((await client.listDlq({ status: 'open' })).items.length, 0);
    assert.equal((await client.listDlq()).items.length, 2);

    // A failed run can also be rerun from its failed step.
    status = 200;
    await rejects(h.fetch(`/v1/runs/${second.id}/rerun`, { method: 'POST', json: { from: 'fetch' } }), 400, 'from');
    const rerun = await client.rerun(second.id, 'fetch');
    assert.equal(rerun.id, second.id);
    assert.equal((await client.waitRun(second.id)).status, 'completed');

    await rejects(h.fetch('/v1/dlq?status=closed'), 400, 'status');
    await rejects(h.fetch('/v1/dlq?limit=1000'), 400, 'limit');
    await rejects(h.fetch('/v1/dlq/nope'), 404);
    await rejects(h.fetch('/v1/dlq/nope/retry', { method: 'POST' }), 404);
  } finally {
    await h.close();
    await service.close();
  }
});

test('the API key guards every workflow route', async () => {
  const key = 'test-key-0123456789abcdef';
  const h = await startHarness({ env: { SWITCHYARD_API_KEYS: key } });
  try {
    const routes: Array<[string, string]> = [
      ['GET', '/v1/workflows'],
      ['GET', '/v1/workflows/greet'],
      ['POST', '/v1/workflows/greet/runs'],
      ['GET', '/v1/runs'],
      ['GET', '/v1/runs/x/events'],
      ['POST', '/v1/runs/x/cancel'],
      ['GET', '/v1/dlq'],
      ['POST', '/v1/dlq/x/retry'],
    ];
    for (const [method, path] of routes) await rejects(h.fetch(path, { method }), 401);
    // The editor schema is public, like /openapi.json: it holds no data.
    assert.equal((await h.fetch('/v1/workflows/schema.json')).status, 200);
    await rejects(register(h, GREET), 401);
    const authorization = `Bearer ${key}`;
    const ok = await h.fetch('/v1/workflows', {
      method: 'POST',
      body: GREET,
      headers: { authorization, 'content-type': 'application/yaml' },
    });
    assert.equal(ok.status, 201);
    const client = new WorkflowClient({ baseUrl: h.url, apiKey: key });
    assert.equal((await client.listWorkflows()).length, 1);
    const run = await client.startRun('greet', { who: 'ada' });
    assert.equal((await eventsUntil(client, run.id)).at(-1)?.type, 'run');
  } finally {
    await h.close();
  }
});
