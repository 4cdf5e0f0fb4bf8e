/**
 * A run in flight when the server dies is resumed by the next start, but not forever: a run whose
 * last two holders both died with it in flight (two kill -9 in a row here; in the field, a run whose
 * resumption itself takes the process down) is failed and dead-lettered instead of resumed a third
 * time. The count is durable (workflow_runs.holders) and starts again after a clean shutdown or a
 * redrive. Positive controls: a run interrupted once resumes and completes; a clean shutdown between
 * two crashes means neither run is quarantined; the quarantined run's DLQ entry redrives it to the end.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../fixtures/harness.ts';
import { type ServerProcess, spawnServer } from '../../fixtures/server-process.ts';
import { json, type Service, startService, workflowText } from '../kit.ts';

async function call(url: string, method = 'GET'): Promise<Record<string, unknown>> {
  const res = await fetch(
    url,
    method === 'POST' ? { method, headers: { 'content-type': 'application/json' }, body: '{}' } : {},
  );
  const body = (await res.json()) as Record<string, unknown>;
  assert.ok(res.ok, `${method} ${url}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

/** A data dir with the workflow, and a service whose /work hangs while `hang` is true. */
async function setup(t: import('node:test').TestContext) {
  const state = { hang: true };
  const api: Service = await startService((req, res) => {
    if (req.path === '/work' && state.hang) return; // in flight until the server dies
    json(res, 200, { ok: true });
  });
  const root = tempDir();
  const workflows = path.join(root, 'workflows');
  fs.mkdirSync(workflows);
  const workspace = path.join(root, 'workspace'); // beside the data dir, never around it
  fs.mkdirSync(workspace);
  fs.writeFileSync(path.join(workflows, 'crash-loop.yaml'), workflowText(import.meta.dirname, { API: api.url }));
  const env = {
    SWITCHYARD_DATA_DIR: path.join(root, 'data'),
    SWITCHYARD_WORKSPACE_ROOTS: workspace,
    SWITCHYARD_WORKFLOWS_DIR: workflows,
    SWITCHYARD_HTTP_ALLOW: '127.0.0.1',
    SWITCHYARD_LOG_LEVEL: 'warn',
  };
  const servers: ServerProcess[] = [];
  t.after(async () => {
    for (const s of servers) s.child.kill('SIGKILL');
    await api.close();
    fs.rmSync(root, { recursive: true, force: true });
  });
  const spawn = async () => {
    const server = await spawnServer(env);
    servers.push(server);
    return server;
  };
  const works = () => api.requests.filter((r) => r.path === '/work').length;
  return { state, api, spawn, works };
}

async function kill(server: ServerProcess): Promise<void> {
  server.child.kill('SIGKILL');
  await server.exited;
}

test('two crashes in a row: the run is failed into the DLQ, not resumed a third time; redrive runs it', async (t) => {
  const { state, api, spawn, works } = await setup(t);
  const first = await spawn();
  const id = (await call(`${first.url}/v1/workflows/crash-loop/runs`, 'POST')).id as string;
  await api.waitFor(1);
  await kill(first);

  const second = await spawn(); // resumes it: the interrupted attempt is retried
  await api.waitFor(2);
  await kill(second);

  const third = await spawn();
  const run = await call(`${third.url}/v1/runs/${id}?wait=30`);
  assert.equal(run.status, 'failed');
  const error = run.error as { kind: string; message: string };
  assert.equal(error.kind, 'internal');
  assert.match(error.message, /died 2 times in a row while this run was in flight; it is not resumed again/);
  const [work, after] = run.steps as Array<{ status: string; attempts: number; errors: Array<{ kind: string }> }>;
  assert.equal(work?.status, 'failed');
  assert.deepEqual(
    work?.errors.map((e) => e.kind),
    ['interrupted', 'internal'],
  );
  assert.equal(after?.status, 'skipped');
  assert.equal(works(), 2, 'not started a third time');
  assert.deepEqual((await call(`${third.url}/health`)).status, 'ok');
  const dlq = (await call(`${third.url}/v1/dlq?status=open`)).items as Array<{
    id: string;
    run_id: string;
    step: string;
  }>;
  assert.deepEqual(
    dlq.map((e) => [e.run_id, e.step]),
    [[id, 'work']],
  );

  // A person redrives it: it runs again (and, the service answering now, to the end).
  state.hang = false;
  await call(`${third.url}/v1/dlq/${dlq[0]!.id}/retry`, 'POST');
  const redriven = await call(`${third.url}/v1/runs/${id}?wait=30`);
  assert.equal(redriven.status, 'completed', JSON.stringify(redriven.error));
  assert.equal((redriven.steps as Array<{ output: { response: string } }>)[1]?.output.response, 'after true');
});

test('positive controls: one crash resumes and completes; a clean shutdown between crashes starts the count again', async (t) => {
  const { state, api, spawn, works } = await setup(t);
  const first = await spawn();
  const id = (await call(`${first.url}/v1/workflows/crash-loop/runs`, 'POST')).id as string;
  await api.waitFor(1);
  await kill(first);

  // Resumed after one crash, then shut down cleanly while the retried attempt is still in flight.
  const second = await spawn();
  await api.waitFor(2);
  await call(`${second.url}/health`); // serving: its SIGTERM handler is in place
  second.child.kill('SIGTERM');
  assert.equal(await second.exited, 0, second.stderr());

  // The clean shutdown set the run down: this start takes it on afresh, and one more crash is allowed.
  const third = await spawn();
  await api.waitFor(3);
  await kill(third);

  state.hang = false;
  const fourth = await spawn();
  const run = await call(`${fourth.url}/v1/runs/${id}?wait=30`);
  assert.equal(run.status, 'completed', JSON.stringify(run.error));
  const [work] = run.steps as Array<{ attempts: number; errors: Array<{ kind: string }> }>;
  assert.deepEqual(
    work?.errors.map((e) => e.kind),
    ['interrupted', 'interrupted', 'interrupted'],
  );
  assert.equal(works(), 4);
});
