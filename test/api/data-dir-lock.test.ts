/**
 * One server per data dir: a second one would kill the first's running tasks as a crashed
 * predecessor's orphans and replace the socket its sandboxes reach the model through.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { SwitchyardClient } from '../../src/client/client.ts';
import { startScriptedModel } from '../../src/model/scripted-model.ts';
import { tempDir } from '../fixtures/harness.ts';
import { spawnServer } from '../fixtures/server-process.ts';

/** Pids of the processes a server started for its tasks (they carry its data dir as owner). */
function ownedBy(dataDir: string): number[] {
  return fs
    .readdirSync('/proc')
    .filter((pid) => /^\d+$/.test(pid))
    .filter((pid) => {
      try {
        return fs.readFileSync(`/proc/${pid}/environ`, 'utf8').includes(`\0SWITCHYARD_TASK_OWNER=${dataDir}\0`);
      } catch {
        return false;
      }
    })
    .map(Number)
    .sort();
}

test('a second server on a data dir in use is refused, and the first one’s task is untouched', {
  timeout: 60_000,
}, async () => {
  let reached: () => void = () => {};
  const atModel = new Promise<void>((resolve) => {
    reached = resolve;
  });
  const model = await startScriptedModel(() => {
    reached();
    return { hang: true };
  });
  const root = tempDir();
  const env = {
    SWITCHYARD_DATA_DIR: path.join(root, 'data'),
    SWITCHYARD_WORKSPACE_ROOTS: path.join(root, 'ws'),
    SWITCHYARD_WARM: '0',
    ANTHROPIC_BASE_URL: model.url,
    ANTHROPIC_API_KEY: 'sk-ant-test-key-not-secret',
  };
  fs.mkdirSync(env.SWITCHYARD_WORKSPACE_ROOTS);
  const first = await spawnServer(env);
  try {
    const client = new SwitchyardClient({ baseUrl: first.url });
    const task = await client.submit({ prompt: 'long', timeout: 60_000 });
    await atModel;
    const before = ownedBy(env.SWITCHYARD_DATA_DIR);
    assert.ok(before.length > 0, 'the control: the task has processes to lose');
    await assert.rejects(spawnServer(env), /SWITCHYARD_DATA_DIR .* is in use by another Switchyard \(pid \d+\)/);
    assert.deepEqual(ownedBy(env.SWITCHYARD_DATA_DIR), before, "the refused server killed the first one's task");
    assert.equal((await client.get(task.id)).status, 'running');
    await client.cancel(task.id);
    // Once the first stops cleanly, the data dir is free for the next.
    first.child.kill('SIGTERM');
    await first.exited;
    const next = await spawnServer(env);
    next.child.kill('SIGTERM');
    await next.exited;
  } finally {
    first.child.kill('SIGKILL');
    await model.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
});
