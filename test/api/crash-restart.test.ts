/**
 * kill -9 the server mid-work and start it again on the same data dir: queued tasks run, a running
 * task ends failed/interrupted (or runs again when the client marked it retry_safe), nothing
 * accepted is lost, and no process of the dead server's tasks is left.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { SwitchyardClient } from '../../src/client/client.ts';
import { type Script, startScriptedModel } from '../../src/model/scripted-model.ts';
import { openStore } from '../../src/store/open-store.ts';
import { fileAppears, tempDir } from '../fixtures/harness.ts';
import { spawnServer } from '../fixtures/server-process.ts';
import { storeOf } from '../fixtures/test-backend.ts';

function processesOwnedBy(dataDir: string): number[] {
  const out: number[] = [];
  for (const pid of fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const env = fs.readFileSync(`/proc/${pid}/environ`, 'utf8');
      const state = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
      if (state !== 'Z' && env.includes(`SWITCHYARD_TASK_OWNER=${dataDir}\0`)) out.push(Number(pid));
    } catch {}
  }
  return out;
}

test('kill -9 mid-run, restart: nothing accepted is lost', { timeout: 120_000 }, async () => {
  // Before the crash the two "hang" tasks start a long Bash command and then never hear back; after
  // the restart every request is answered.
  let restarted = false;
  const startedBeforeCrash = new Set<string>();
  const script: Script = (req) => {
    if (!restarted && req.prompt.startsWith('hang')) {
      if (req.turnIndex > 0) return { hang: true };
      startedBeforeCrash.add(req.prompt);
      const name = req.prompt.replace(' ', '-');
      return {
        tool_use: { name: 'Bash', input: { command: `touch ${name}.started && timeout 3999 tail -f /dev/null` } },
      };
    }
    return { text: `answered ${req.prompt}` };
  };
  const model = await startScriptedModel(script);
  const root = tempDir();
  const dataDir = path.join(root, 'data');
  const workspace = path.join(root, 'ws');
  fs.mkdirSync(workspace);
  const env = {
    SWITCHYARD_DATA_DIR: dataDir,
    SWITCHYARD_WORKSPACE_ROOTS: workspace,
    SWITCHYARD_CONCURRENCY: '2',
    SWITCHYARD_LOG_LEVEL: 'warn',
    ANTHROPIC_BASE_URL: model.url,
    ANTHROPIC_API_KEY: 'sk-ant-test',
  };
  let server = await spawnServer(env);
  try {
    let client = new SwitchyardClient({ baseUrl: server.url });
    const tools = ['Bash(touch *)', 'Bash(timeout *)'];
    const bashStarted = Promise.all(['hang-plain.started', 'hang-safe.started'].map((f) => fileAppears(workspace, f)));
    const plain = await client.submit({ prompt: 'hang plain', allowed_tools: tools, timeout: 120000 });
    const safe = await client.submit({ prompt: 'hang safe', allowed_tools: tools, timeout: 120000, retry_safe: true });
    const queued = [];
    for (let i = 0; i < 3; i++) queued.push(await client.submit({ prompt: `queued ${i}` }));
    // Both hanging tasks reached the model and their Bash command is running; the rest wait.
    await bashStarted;
    assert.equal(startedBeforeCrash.size, 2);
    assert.equal((await client.get(plain.id)).status, 'running');
    assert.equal((await client.get(queued[0]!.id)).status, 'queued');
    // At least each task's Claude Code and the shell running its Bash command.
    const leftBehind = processesOwnedBy(dataDir);
    assert.ok(leftBehind.length >= 4, `processes of the tasks: ${leftBehind.length}`);

    restarted = true;
    server.child.kill('SIGKILL');
    await server.exited;
    server = await spawnServer(env);
    client = new SwitchyardClient({ baseUrl: server.url });
    // The dead server's agents and their Bash children were killed by the new server at start.
    const alive = new Set(processesOwnedBy(dataDir));
    assert.deepEqual(
      leftBehind.filter((pid) => alive.has(pid)),
      [],
    );

    const p = await client.wait(plain.id, 60000);
    assert.equal(p.status, 'failed');
    assert.equal(p.error?.kind, 'interrupted');
    const s = await client.wait(safe.id, 60000);
    assert.equal(s.status, 'completed', JSON.stringify(s.error));
    assert.equal(s.response, 'answered hang safe');
    for (const [i, q] of queued.entries()) {
      const done = await client.wait(q.id, 60000);
      assert.equal(done.status, 'completed');
      assert.equal(done.response, `answered queued ${i}`);
    }
    const all = await client.list({ limit: 200 });
    assert.equal(all.items.length, 5);
  } finally {
    server.child.kill('SIGKILL');
    await server.exited;
    await model.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('SIGTERM drains: the running task finishes, then the process exits 0', { timeout: 60_000 }, async () => {
  let modelCalled: () => void = () => {};
  const reachedModel = new Promise<void>((r) => (modelCalled = r));
  const model = await startScriptedModel((req) => {
    modelCalled();
    return { text: `ok ${req.prompt}`, delay_ms: 800 };
  });
  const root = tempDir();
  const workspace = path.join(root, 'ws');
  fs.mkdirSync(workspace);
  const server = await spawnServer({
    SWITCHYARD_DATA_DIR: path.join(root, 'data'),
    SWITCHYARD_WORKSPACE_ROOTS: workspace,
    SWITCHYARD_LOG_LEVEL: 'warn',
    ANTHROPIC_BASE_URL: model.url,
    ANTHROPIC_API_KEY: 'sk-ant-test',
  });
  try {
    const client = new SwitchyardClient({ baseUrl: server.url });
    const t = await client.submit({ prompt: 'slow' });
    // The model holds its answer for 800 ms: SIGTERM lands while the task is mid-turn.
    await reachedModel;
    assert.equal((await client.get(t.id)).status, 'running');
    server.child.kill('SIGTERM');
    assert.equal(await server.exited, 0);
    // What the stopped server left in its store, read through the store as a restarted one would.
    const { store } = await openStore(await storeOf(path.join(root, 'data')));
    try {
      const stored = await store.getTask(t.id);
      assert.deepEqual([stored?.status, stored?.response], ['completed', 'ok slow']);
    } finally {
      await store.close();
    }
  } finally {
    server.child.kill('SIGKILL');
    await model.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
});
