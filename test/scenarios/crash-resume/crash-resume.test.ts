/**
 * kill -9 mid-run, then start again on the same data dir: the run goes on, the completed step is not
 * run again (its output is kept and used), and the step that was running is retried under its policy
 * with the interrupted attempt counted (`interrupted`, retryable).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../../src/config.ts';
import { startServer } from '../../../src/main.ts';
import { tempDir } from '../../fixtures/harness.ts';
import { databaseEnvFor } from '../../fixtures/test-backend.ts';
import { json, startService, workflowText } from '../kit.ts';

test('kill -9 mid-run and resume: no completed step runs twice', async (t) => {
  let middleCalls = 0;
  const api = await startService((req, res) => {
    if (req.path === '/middle' && ++middleCalls === 1) return; // hangs until the server dies
    json(res, 200, req.path === '/last' ? { ok: true } : { from: req.path, body: req.body || null });
  });
  const root = tempDir();
  const workflows = path.join(root, 'workflows');
  fs.mkdirSync(workflows);
  // The workspace root must not hold the data dir (loadConfig refuses the overlap).
  const workspace = path.join(root, 'workspace');
  fs.mkdirSync(workspace);
  fs.writeFileSync(path.join(workflows, 'crash-resume.yaml'), workflowText(import.meta.dirname, { API: api.url }));
  const env = {
    SWITCHYARD_PORT: '0',
    SWITCHYARD_DATA_DIR: path.join(root, 'data'),
    SWITCHYARD_WORKSPACE_ROOTS: workspace,
    SWITCHYARD_WORKFLOWS_DIR: workflows,
    SWITCHYARD_HTTP_ALLOW: '127.0.0.1',
    SWITCHYARD_LOG_LEVEL: 'warn',
    ...(await databaseEnvFor(path.join(root, 'data'))),
  };
  t.after(async () => {
    await api.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  const child = spawn(process.execPath, [path.join(import.meta.dirname, 'child.ts')], {
    env: { PATH: process.env.PATH ?? '', HOME: root, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  let stderr = '';
  const runId = await new Promise<string>((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      const m = /run (\S+)/.exec(stderr);
      if (m) resolve(m[1]!);
    });
    void exited.then(() => reject(new Error(`child exited early:\n${stderr}`)));
  });
  await api.waitFor(2); // first answered, middle in flight
  child.kill('SIGKILL');
  await exited;

  const server = await startServer(loadConfig(env));
  t.after(() => server.close(2000));
  const done = await server.workflows.waitRun(runId, 30_000);
  assert.equal(done.status, 'completed', JSON.stringify(done.error));
  assert.deepEqual(
    api.requests.map((r) => r.path),
    ['/first', '/middle', '/middle', '/last'],
  );
  const [first, middle, last] = done.steps;
  assert.equal(first?.attempts, 1);
  assert.equal(middle?.attempts, 2);
  assert.deepEqual(
    middle?.errors.map((e) => [e.attempt, e.kind, e.retryable]),
    [[1, 'interrupted', true]],
  );
  assert.equal(last?.status, 'completed');
  const posted = JSON.parse(api.requests[3]!.body);
  assert.deepEqual(posted.first, { from: '/first', body: null }, 'the kept output of the first step is used');
});
