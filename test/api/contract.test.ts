/**
 * The served OpenAPI document against the real server: every route Hono has registered is documented
 * and every documented route exists; real responses (a task, a run, a schedule list, errors) validate
 * against the response schemas the document gives for them. Real server, real SQLite, scripted model.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { WorkflowClient } from '../../src/client/workflow-client.ts';
import { GREET } from '../fixtures/greet-workflow.ts';
import { type Harness, startHarness } from '../fixtures/harness.ts';

interface Doc {
  paths: Record<
    string,
    Record<string, { responses: Record<string, { content?: Record<string, { schema: object }> }> }>
  >;
  components: Record<string, unknown>;
}

let h: Harness;
let doc: Doc;
let client: WorkflowClient;

before(async () => {
  // Loopback allowed so an http step can fail for good against a port nothing listens on.
  h = await startHarness({ env: { SWITCHYARD_HTTP_ALLOW: '127.0.0.1' } });
  client = new WorkflowClient({ baseUrl: h.url });
  const res = await h.fetch('/openapi.json');
  assert.equal(res.status, 200);
  doc = (await res.json()) as Doc;
});
after(() => h?.close());

const HTTP_METHODS = new Set(['get', 'post', 'put', 'patch', 'delete']);
/** The dashboard's own files: a page and its assets, not part of the API (src/api/routes/dashboard.ts). */
const DASHBOARD_FILES = new Set(['get /', 'get /index.html', 'get /assets/*', 'get /favicon.svg']);

/** `/v1/runs/:id/steps/:step/approve` → `/v1/runs/{id}/steps/{step}/approve`, as OpenAPI spells it. */
const openApiPath = (path: string) => path.replace(/:([^/]+)/g, '{$1}');

test('every registered route is in /openapi.json, and every documented route is registered', () => {
  const registered = new Set(
    h.server.app.routes
      // Middleware (auth, body limit) is registered for ALL methods on a pattern; routes have a method.
      .filter((r) => r.method !== 'ALL')
      .map((r) => `${r.method.toLowerCase()} ${openApiPath(r.path)}`)
      .filter((r) => !DASHBOARD_FILES.has(r)),
  );
  const documented = new Set(
    Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops)
        .filter((m) => HTTP_METHODS.has(m))
        .map((m) => `${m} ${path}`),
    ),
  );
  const undocumented = [...registered].filter((r) => !documented.has(r));
  const unregistered = [...documented].filter((r) => !registered.has(r));
  assert.deepEqual(undocumented, [], 'routes missing from /openapi.json');
  assert.deepEqual(unregistered, [], 'documented routes the server does not serve');
  // The sets are not trivially equal because both are empty.
  for (const r of ['post /execute', 'get /sessions/{id}', 'post /v1/tasks', 'post /v1/hooks/{name}', 'get /v1/dlq']) {
    assert.ok(registered.has(r), r);
  }
});

const ajv = new Ajv2020({ strict: false, allErrors: true });

/** Checks a real answer against the schema the document gives for (method, path, status). */
async function assertDocumented(method: string, path: string, res: Response): Promise<unknown> {
  const body = await res.json();
  const responses = doc.paths[path]?.[method]?.responses;
  assert.ok(responses, `${method} ${path} is not documented`);
  const response = responses[String(res.status)] ?? responses[`${String(res.status)[0]}XX`];
  const schema = response?.content?.['application/json']?.schema;
  assert.ok(schema, `${method} ${path} documents no JSON schema for ${res.status}`);
  // The document's $refs point at #/components: give the schema the document's components as its own.
  const validate = ajv.compile({ ...schema, components: doc.components });
  assert.ok(
    validate(body),
    `${method} ${path} ${res.status}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body)}`,
  );
  return body;
}

test('a task, as submitted and as finished, matches the documented Task', async () => {
  const submitted = await h.fetch('/v1/tasks', { method: 'POST', json: { prompt: 'say hi' } });
  assert.equal(submitted.status, 201);
  const task = (await assertDocumented('post', '/v1/tasks', submitted)) as { id: string };
  const done = await h.fetch(`/v1/tasks/${task.id}?wait=60`);
  const finished = (await assertDocumented('get', '/v1/tasks/{id}', done)) as { status: string };
  assert.equal(finished.status, 'completed');
  await assertDocumented('get', '/v1/tasks', await h.fetch('/v1/tasks?limit=5'));
  await assertDocumented('get', '/sessions/{id}', await h.fetch(`/sessions/${task.id}`));
});

test('a cancelled task, whose result holds only its policy, matches the documented Task and Session', async () => {
  const submitted = await h.fetch('/v1/tasks', { method: 'POST', json: { prompt: 'say hi', allowed_tools: ['Read'] } });
  const { id } = (await submitted.json()) as { id: string };
  await assertDocumented('post', '/v1/tasks/{id}/cancel', await h.fetch(`/v1/tasks/${id}/cancel`, { method: 'POST' }));
  const done = (await assertDocumented('get', '/v1/tasks/{id}', await h.fetch(`/v1/tasks/${id}?wait=60`))) as {
    status: string;
    result: { policy?: { tools?: string[] } } | null;
  };
  assert.equal(done.status, 'failed');
  assert.deepEqual(done.result?.policy?.tools, ['Read']);
  await assertDocumented('get', '/sessions/{id}', await h.fetch(`/sessions/${id}`));
});

test('a finished run and a page of runs match the documented Run', async () => {
  await client.registerWorkflow(GREET);
  const run = await client.startRun('greet', { who: 'contract' });
  await client.waitRun(run.run_id, 60_000);
  const body = (await assertDocumented('get', '/v1/runs/{id}', await h.fetch(`/v1/runs/${run.run_id}`))) as {
    status: string;
  };
  assert.equal(body.status, 'completed');
  await assertDocumented('get', '/v1/runs', await h.fetch('/v1/runs?workflow=greet'));
  await assertDocumented('get', '/v1/workflows/{name}', await h.fetch('/v1/workflows/greet'));
});

test('a failed run and its dead-letter entry match the documented Run and DlqEntry', async () => {
  await client.registerWorkflow(`name: unreachable
steps:
  fetch:
    worker: http
    url: "http://127.0.0.1:9/"
    retry: { max_attempts: 1 }
`);
  const run = await client.startRun('unreachable');
  await client.waitRun(run.run_id, 60_000);
  const failed = (await assertDocumented('get', '/v1/runs/{id}', await h.fetch(`/v1/runs/${run.run_id}`))) as {
    status: string;
    steps: Array<{ errors: unknown[] }>;
  };
  assert.equal(failed.status, 'failed');
  assert.equal(failed.steps[0]!.errors.length, 1);
  const page = (await assertDocumented('get', '/v1/dlq', await h.fetch('/v1/dlq'))) as { items: Array<{ id: string }> };
  assert.equal(page.items.length, 1);
  await assertDocumented('get', '/v1/dlq/{id}', await h.fetch(`/v1/dlq/${page.items[0]!.id}`));
});

test('a schedule list matches the documented Schedule', async () => {
  await client.registerWorkflow(`name: nightly
triggers:
  - { cron: "0 9 * * *", name: morning }
steps:
  brief: { worker: transform, template: "hi" }
`);
  const body = (await assertDocumented('get', '/v1/schedules', await h.fetch('/v1/schedules'))) as {
    items: unknown[];
  };
  assert.equal(body.items.length, 1);
});

test('the pool list matches the documented Pool', async () => {
  const body = (await assertDocumented('get', '/v1/pools', await h.fetch('/v1/pools'))) as {
    items: Array<{ name: string }>;
  };
  assert.ok(body.items.some((p) => p.name === 'http'));
});

test('errors match the documented envelope; parameter errors name the field, never a zod issue dump', async () => {
  await assertDocumented('get', '/v1/tasks/{id}', await h.fetch('/v1/tasks/no-such-task'));
  const bad = await h.fetch('/v1/runs?limit=0&status=running');
  assert.equal(bad.status, 400);
  assert.deepEqual(await assertDocumented('get', '/v1/runs', bad), {
    error: { kind: 'validation', message: 'limit must be a number between 1 and 200', field: 'limit' },
  });
  const status = await h.fetch('/v1/dlq?status=%3Cscript%3E');
  assert.deepEqual(await status.json(), {
    error: { kind: 'validation', message: 'status must be one of open, retried, discarded', field: 'status' },
  });
  // A strict body: an unknown field is named, whatever zod's own wording would be.
  const unknown = await h.fetch('/v1/runs/x/rerun', { method: 'POST', json: { step: 'a', extra: 1 } });
  assert.deepEqual(await unknown.json(), {
    error: { kind: 'validation', message: 'unknown field "extra"', field: 'extra' },
  });
});

test('bodies are read by the routes, not the library: any content type, our malformed-JSON message', async () => {
  // curl -d sends application/x-www-form-urlencoded; the article's clients are not all careful either.
  const form = await h.fetch('/execute', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: JSON.stringify({ prompt: 'hi' }),
  });
  assert.equal(form.status, 200);
  const malformed = await h.fetch('/v1/tasks', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"prompt": ',
  });
  assert.equal(malformed.status, 400);
  const { error } = (await malformed.json()) as { error: { kind: string; field: string; message: string } };
  assert.equal(error.kind, 'validation');
  assert.equal(error.field, 'body');
  assert.match(error.message, /^body is not valid JSON/);
});
