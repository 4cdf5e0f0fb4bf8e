/**
 * Two api and two worker processes on one database: tasks submitted round-robin to the apis all
 * complete, each run exactly once (one model request per task, one attempt), and both workers take some.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startScriptedModel } from '../../src/model/scripted-model.ts';
import { settled, startCluster } from '../fixtures/cluster.ts';
import { postgresForTests } from '../fixtures/postgres.ts';

const pg = postgresForTests();

test('2 api + 2 worker processes: 20 tasks, all complete, each exactly once', { timeout: 300_000 }, async () => {
  const prompts: string[] = [];
  const model = await startScriptedModel((req) => {
    prompts.push(req.prompt);
    return { text: `done ${req.prompt}` };
  });
  const db = await pg.createDatabase();
  const cluster = await startCluster({
    databaseUrl: db.url,
    modelUrl: model.url,
    roles: ['api', 'api', 'worker', 'worker'],
  });
  try {
    const apis = cluster.apis;
    assert.equal(apis.length, 2);
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      ids.push((await apis[i % 2]!.client.submit({ prompt: `job ${i}` })).id);
    }
    for (const [i, id] of ids.entries()) {
      const task = await settled(apis[(i + 1) % 2]!.client, id, 240_000);
      assert.equal(task.status, 'completed', JSON.stringify(task.error));
      assert.equal(task.response, `done job ${i}`);
      assert.equal(task.attempts, 1);
    }
    // Each prompt reached the model exactly once.
    const counts = new Map<string, number>();
    for (const p of prompts) counts.set(p, (counts.get(p) ?? 0) + 1);
    for (let i = 0; i < 20; i++) assert.equal(counts.get(`job ${i}`), 1, `job ${i}`);
    // An api process runs no Claude Code: every task ran on a worker.
    for (const api of apis) {
      const metrics = await (await fetch(`${api.process.url}/metrics`)).text();
      assert.equal(finishedCount(metrics), 0);
    }
    // The workers between them finished each task once.
    let finished = 0;
    for (const w of cluster.workers) finished += finishedCount(await (await fetch(`${w.process.url}/metrics`)).text());
    assert.equal(finished, 20);
    // A worker serves /health and /metrics, and nothing of the API.
    const worker = cluster.workers[0]!;
    assert.equal((await fetch(`${worker.process.url}/health`)).status, 200);
    assert.equal((await fetch(`${worker.process.url}/metrics`)).status, 200);
    const refused = await fetch(`${worker.process.url}/v1/tasks`);
    assert.equal(refused.status, 404);
    assert.match(await refused.text(), /worker/);
  } finally {
    await cluster.close();
    await model.close();
  }
});

function finishedCount(metrics: string): number {
  let n = 0;
  for (const m of metrics.matchAll(/^switchyard_tasks_finished_total(?:\{[^}]*\})? (\d+)$/gm)) n += Number(m[1]);
  return n;
}
