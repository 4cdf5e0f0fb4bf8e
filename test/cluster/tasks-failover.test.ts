/**
 * kill -9 a worker mid-task, on PostgreSQL with separate api and worker processes: after the lease
 * (10 s here) the other worker gets the job again; the retry_safe task runs again there and completes,
 * the other ends failed/interrupted. The killed worker's stale attempt cannot overwrite the newer one:
 * the fence is contract-tested on the Store (test/contract/task-leases.test.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Script, startScriptedModel } from '../../src/model/scripted-model.ts';
import { settled, startCluster } from '../fixtures/cluster.ts';
import { fileAppears } from '../fixtures/harness.ts';
import { postgresForTests } from '../fixtures/postgres.ts';

const pg = postgresForTests();

test('a worker killed mid-task: retry_safe runs again elsewhere, the other ends interrupted', {
  timeout: 240_000,
}, async () => {
  // Until the kill, the "hang" tasks start a long Bash command and then never hear back.
  let killed = false;
  const script: Script = (req) => {
    if (!killed && req.prompt.startsWith('hang')) {
      if (req.turnIndex > 0) return { hang: true };
      const name = req.prompt.replace(' ', '-');
      return {
        tool_use: { name: 'Bash', input: { command: `touch ${name}.started && timeout 3999 tail -f /dev/null` } },
      };
    }
    return { text: `answered ${req.prompt}` };
  };
  const model = await startScriptedModel(script);
  const db = await pg.createDatabase();
  // One worker at first, so both tasks run on the one that is killed.
  const cluster = await startCluster({ databaseUrl: db.url, modelUrl: model.url, roles: ['api', 'worker'] });
  try {
    const api = cluster.apis[0]!.client;
    const doomed = cluster.workers[0]!;
    const tools = ['Bash(touch *)', 'Bash(timeout *)'];
    const started = Promise.all(
      ['hang-plain.started', 'hang-safe.started'].map((f) => fileAppears(cluster.workspace, f)),
    );
    const plain = await api.submit({ prompt: 'hang plain', allowed_tools: tools, timeout: 180000 });
    const safe = await api.submit({ prompt: 'hang safe', allowed_tools: tools, timeout: 180000, retry_safe: true });
    await started;
    assert.equal((await api.get(plain.id)).status, 'running');
    assert.equal((await api.get(safe.id)).status, 'running');

    await cluster.add('worker');
    killed = true;
    doomed.process.child.kill('SIGKILL');
    await doomed.process.exited;

    // Bounded: lease 10 s + monitor 2 s + polling, with a wide margin for a loaded machine.
    const s = await settled(api, safe.id, 90_000);
    assert.equal(s.status, 'completed', JSON.stringify(s.error));
    assert.equal(s.response, 'answered hang safe');
    assert.equal(s.attempts, 2);
    const p = await settled(api, plain.id, 90_000);
    assert.equal(p.status, 'failed');
    assert.equal(p.error?.kind, 'interrupted');
    assert.match(p.error?.message ?? '', /worker running this task stopped/);
    assert.equal(p.attempts, 1, 'a task that is not retry_safe is not run again');
    // New work still flows through the surviving worker.
    const after = await api.submit({ prompt: 'after' });
    assert.equal((await settled(api, after.id, 60_000)).response, 'answered after');
  } finally {
    await cluster.close();
    await model.close();
  }
});
