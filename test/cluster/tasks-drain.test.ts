/**
 * SIGTERM drains a worker on PostgreSQL: it takes no new jobs, a task that ends within the grace
 * (SWITCHYARD_DRAIN_SECONDS) completes there, one that does not is stopped and handed back, and the
 * other worker runs it again (it is retry_safe). The drained process exits 0.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Script, startScriptedModel } from '../../src/model/scripted-model.ts';
import { settled, startCluster } from '../fixtures/cluster.ts';
import { fileAppears } from '../fixtures/harness.ts';
import { postgresForTests } from '../fixtures/postgres.ts';

const pg = postgresForTests();

test('SIGTERM drains a worker: short work finishes, long work is handed back and retaken', {
  timeout: 240_000,
}, async () => {
  let drained = false;
  let slowReached: () => void = () => {};
  const slowAtModel = new Promise<void>((r) => (slowReached = r));
  const script: Script = (req) => {
    if (req.prompt === 'slow') {
      slowReached();
      return { text: 'ok slow', delay_ms: 1500 };
    }
    if (!drained && req.prompt === 'long') {
      if (req.turnIndex > 0) return { hang: true };
      return { tool_use: { name: 'Bash', input: { command: 'touch long.started && timeout 3999 tail -f /dev/null' } } };
    }
    return { text: `answered ${req.prompt}` };
  };
  const model = await startScriptedModel(script);
  const db = await pg.createDatabase();
  const cluster = await startCluster({
    databaseUrl: db.url,
    modelUrl: model.url,
    roles: ['api', 'worker'],
    env: { SWITCHYARD_DRAIN_SECONDS: '4' },
  });
  try {
    const api = cluster.apis[0]!.client;
    const draining = cluster.workers[0]!;
    const tools = ['Bash(touch *)', 'Bash(timeout *)'];
    const longStarted = fileAppears(cluster.workspace, 'long.started');
    const long = await api.submit({ prompt: 'long', allowed_tools: tools, timeout: 180000, retry_safe: true });
    await longStarted;
    const slow = await api.submit({ prompt: 'slow' });
    await slowAtModel;
    await cluster.add('worker');
    drained = true;
    draining.process.child.kill('SIGTERM');
    assert.equal(await draining.process.exited, 0);

    const s = await settled(api, slow.id, 60_000);
    assert.equal(s.status, 'completed');
    assert.equal(s.response, 'ok slow');
    assert.equal(s.attempts, 1, 'finished within the grace, on the drained worker');
    const l = await settled(api, long.id, 90_000);
    assert.equal(l.status, 'completed', JSON.stringify(l.error));
    assert.equal(l.response, 'answered long');
    assert.equal(l.attempts, 2, 'handed back at the end of the grace and run again');
  } finally {
    await cluster.close();
    await model.close();
  }
});
