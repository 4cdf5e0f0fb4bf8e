/**
 * Without model credentials the server starts (llm, http and transform work needs none), warns once
 * at start, and fails every task and claude step at once, naming what to set: no Claude Code process
 * is started and nothing waits for a timeout.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { SwitchyardClient } from '../../src/client/client.ts';
import { startHarness, tempDir } from '../fixtures/harness.ts';
import { spawnServer } from '../fixtures/server-process.ts';

const NO_CREDENTIALS = { ANTHROPIC_API_KEY: '', ANTHROPIC_AUTH_TOKEN: '', ANTHROPIC_BASE_URL: '' };
const WHAT_TO_SET =
  /set ANTHROPIC_API_KEY \(or ANTHROPIC_AUTH_TOKEN\) in the server's environment, or run `npm run demo`/;

test('without credentials a task and a claude step fail at once, naming the variable to set', async () => {
  const h = await startHarness({ env: NO_CREDENTIALS });
  try {
    const client = new SwitchyardClient({ baseUrl: h.url });
    // A timeout far beyond the test's: only an immediate failure ends it in time.
    const task = await client.wait((await client.submit({ prompt: 'hello', timeout: 3_600_000 })).id);
    assert.equal(task.status, 'failed');
    assert.equal(task.error?.kind, 'validation');
    assert.equal((task.error as { field?: string } | null)?.field, 'ANTHROPIC_API_KEY');
    assert.equal(task.error?.retryable, false);
    assert.match(task.error?.message ?? '', WHAT_TO_SET);
    // The article's poll sees the same.
    const session = (await (await h.fetch(`/sessions/${task.id}`)).json()) as { status: string };
    assert.equal(session.status, 'failed');

    const wf = h.server.workflows;
    await wf.registerWorkflow(
      [
        'name: mixed',
        'steps:',
        '  plain:',
        '    worker: transform',
        '    template: still works',
        '  agent:',
        '    worker: claude',
        '    depends_on: [plain]',
        '    prompt: review it',
        '    retry: { max_attempts: 3, backoff: { initial: 0 } }',
      ].join('\n'),
    );
    const run = await wf.waitRun((await wf.startRun('mixed', {})).run.id, 30_000);
    assert.equal(run.status, 'failed');
    assert.equal(run.steps[0]?.output?.response, 'still works');
    const agent = run.steps[1]!;
    assert.equal(agent.error?.kind, 'validation');
    assert.match(agent.error?.message ?? '', WHAT_TO_SET);
    assert.equal(agent.attempts, 1, 'a missing key is not retried');

    // No Claude Code ever started: no model call, no per-task config dir.
    assert.equal(h.model.requests.length, 0);
    assert.ok(!fs.existsSync(path.join(h.dataDir, 'claude', task.id)));
  } finally {
    await h.close();
  }
});

test('`switchyard serve` without credentials warns at start and points to npm run demo', {
  timeout: 60_000,
}, async () => {
  const root = tempDir();
  fs.mkdirSync(path.join(root, 'workspace'));
  const server = await spawnServer({
    SWITCHYARD_DATA_DIR: path.join(root, 'data'),
    SWITCHYARD_WORKSPACE_ROOTS: path.join(root, 'workspace'),
    SWITCHYARD_WARM: '0',
  });
  try {
    const health = await fetch(`${server.url}/health`);
    assert.equal(health.status, 200, 'the server still starts');
    await health.body?.cancel();
    const warning = server
      .stdout()
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { level: number; msg: string })
      .find((entry) => WHAT_TO_SET.test(entry.msg));
    assert.ok(warning, server.stdout());
    assert.equal(warning.level, 40, 'a warning');
  } finally {
    server.child.kill('SIGTERM');
    await server.exited;
    fs.rmSync(root, { recursive: true, force: true });
  }
});
