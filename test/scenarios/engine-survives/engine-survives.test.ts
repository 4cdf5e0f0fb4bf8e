/**
 * An exception while orchestrating a run fails that run, never the process. The trigger is real and
 * cheap: an http step whose service answers JSON nested 100,000 levels deep (200 KB). It is within
 * every size limit and parses, but the engine's recursive walks of it throw RangeError (stack), in
 * the middle of recording the step's completion. Before, that was an unhandled rejection: the server
 * exited, and on every restart it resumed the step and exited again.
 *
 * Real server processes: the run fails (`internal`, naming the RangeError) and goes to the DLQ, the
 * server still answers /health and runs other workflows, and a restart after kill -9 neither crashes
 * nor runs the step again.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../fixtures/harness.ts';
import { spawnServer } from '../../fixtures/server-process.ts';
import { json, startService, workflowText } from '../kit.ts';

const DEPTH = 100_000;

async function call(url: string, init: RequestInit = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, init);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

test('a RangeError while recording a step fails the run, not the server; a restart does not crash', async (t) => {
  const api = await startService((req, res) => {
    if (req.path === '/deep') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('['.repeat(DEPTH) + ']'.repeat(DEPTH));
    } else json(res, 200, { ok: true });
  });
  const root = tempDir();
  const workflows = path.join(root, 'workflows');
  fs.mkdirSync(workflows);
  const workspace = path.join(root, 'workspace'); // beside the data dir, never around it
  fs.mkdirSync(workspace);
  for (const file of ['deep.yaml', 'ok.yaml']) {
    fs.writeFileSync(path.join(workflows, file), workflowText(import.meta.dirname, { API: api.url }, file));
  }
  const env = {
    SWITCHYARD_DATA_DIR: path.join(root, 'data'),
    SWITCHYARD_WORKSPACE_ROOTS: workspace,
    SWITCHYARD_WORKFLOWS_DIR: workflows,
    SWITCHYARD_HTTP_ALLOW: '127.0.0.1',
    SWITCHYARD_LOG_LEVEL: 'warn',
  };
  const servers: Array<Awaited<ReturnType<typeof spawnServer>>> = [];
  t.after(async () => {
    for (const s of servers) s.child.kill('SIGKILL');
    await api.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  const first = await spawnServer(env);
  servers.push(first);
  const started = await call(`${first.url}/v1/workflows/deep/runs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  assert.equal(started.status, 201, JSON.stringify(started.body));
  const id = started.body.id as string;
  const done = (await call(`${first.url}/v1/runs/${id}?wait=60`)).body;
  assert.equal(done.status, 'failed', first.stderr());
  const error = done.error as { kind: string; message: string };
  assert.equal(error.kind, 'internal');
  assert.match(error.message, /RangeError: Maximum call stack size exceeded/);
  const steps = done.steps as Array<{ name: string; status: string }>;
  assert.deepEqual(
    steps.map((s) => [s.name, s.status]),
    [
      ['deep', 'failed'],
      ['after', 'skipped'],
    ],
  );
  const dlq = (await call(`${first.url}/v1/dlq?status=open`)).body.items as Array<{ run_id: string; step: string }>;
  assert.deepEqual(
    dlq.map((e) => [e.run_id, e.step]),
    [[id, 'deep']],
  );

  // The process is alive and still does its work (positive control: a run of an ordinary workflow).
  assert.equal((await call(`${first.url}/health`)).status, 200);
  const ok = await call(`${first.url}/v1/workflows/ok/runs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  const okDone = (await call(`${first.url}/v1/runs/${ok.body.id as string}?wait=60`)).body;
  assert.equal(okDone.status, 'completed', JSON.stringify(okDone.error));
  assert.equal(first.child.exitCode, null, 'the server has not exited');

  // kill -9 and start again: the failed run stays failed, nothing is resumed, the server stays up.
  first.child.kill('SIGKILL');
  await first.exited;
  const second = await spawnServer(env);
  servers.push(second);
  assert.equal((await call(`${second.url}/health`)).status, 200);
  const after = (await call(`${second.url}/v1/runs/${id}`)).body;
  assert.equal(after.status, 'failed');
  assert.equal(api.requests.filter((r) => r.path === '/deep').length, 1, 'the step is not run again');
  second.child.kill('SIGTERM');
  assert.equal(await second.exited, 0, second.stderr());
});
