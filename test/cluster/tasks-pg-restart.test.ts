/**
 * PostgreSQL restarted under load: api and worker processes ride it out (pg's pools and pg-boss
 * reconnect), nothing accepted is lost, and every accepted task ends. The cluster is this file's own
 * (pg_ctl stop / start on a private data dir), so the restart touches no other test's database.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { SwitchyardError, type Task } from '../../src/client/client.ts';
import { startScriptedModel } from '../../src/model/scripted-model.ts';
import { settled, startCluster } from '../fixtures/cluster.ts';
import { postgresBinDir } from '../fixtures/postgres.ts';

/** A private PostgreSQL that can be stopped and started again on the same socket and data. */
function restartablePostgres(): { url: string; start(): void; stop(): void; destroy(): void } {
  const bin = postgresBinDir();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-pg-restart-'));
  const asRoot = process.getuid?.() === 0;
  const run = (cmd: string, args: string[]) =>
    execFileSync(asRoot ? 'runuser' : cmd, asRoot ? ['-u', 'postgres', '--', cmd, ...args] : args, {
      stdio: 'pipe',
      timeout: 60_000,
    });
  if (asRoot) execFileSync('chown', ['postgres:postgres', dir]);
  const data = path.join(dir, 'data');
  run(path.join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
  const options = `-k ${dir} -c listen_addresses= -c max_connections=200 -c fsync=off -c synchronous_commit=off`;
  const pgCtl = path.join(bin, 'pg_ctl');
  return {
    url: `postgresql://postgres@localhost/postgres?host=${encodeURIComponent(dir)}`,
    start: () => run(pgCtl, ['-D', data, '-o', options, '-l', path.join(dir, 'log'), '-w', 'start']),
    // fast: every session is ended at once, as a crash or a failover would end them.
    stop: () => run(pgCtl, ['-D', data, '-m', 'fast', '-w', 'stop']),
    destroy() {
      try {
        run(pgCtl, ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } catch {}
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

const postgres = restartablePostgres();
after(() => postgres.destroy());

test('PostgreSQL restarted under load: processes reconnect, every accepted task ends', {
  timeout: 300_000,
}, async () => {
  postgres.start();
  const prompts: string[] = [];
  const model = await startScriptedModel((req) => {
    prompts.push(req.prompt);
    return { text: `done ${req.prompt}`, delay_ms: 400 };
  });
  const cluster = await startCluster({
    databaseUrl: postgres.url,
    modelUrl: model.url,
    roles: ['api', 'worker', 'worker'],
  });
  try {
    const api = cluster.apis[0]!.client;
    const accepted: Array<{ task: Task; prompt: string }> = [];
    for (let i = 0; i < 8; i++)
      accepted.push({ task: await api.submit({ prompt: `before ${i}` }), prompt: `before ${i}` });
    // Some are running, some queued, when the database goes away for a few seconds.
    await new Promise((r) => setTimeout(r, 1500));
    postgres.stop();
    // While it is down a submission is refused (never accepted and then lost).
    const refused = await api.submit({ prompt: 'during' }).then(
      () => undefined,
      (err: unknown) => err,
    );
    // A 503 to retry, not a 500: the client can tell an outage from a bug.
    assert.ok(
      refused instanceof SwitchyardError,
      `a submission while the database is down is not accepted: ${refused}`,
    );
    assert.equal(refused.status, 503, refused.message);
    assert.equal(refused.kind, 'overloaded');
    await new Promise((r) => setTimeout(r, 3000));
    postgres.start();
    // Every process is still there.
    for (const node of cluster.nodes)
      assert.equal(node.process.child.exitCode, null, `${node.role} exited:\n${node.process.stderr().slice(-3000)}`);
    for (let i = 0; i < 4; i++) {
      const prompt = `after ${i}`;
      accepted.push({ task: await submitWhenBack(() => api.submit({ prompt })), prompt });
    }

    for (const { task, prompt } of accepted) {
      const done = await settled(api, task.id, 150_000);
      // A task that was running when the database went away may have ended interrupted; the rest complete.
      if (done.status === 'failed') assert.equal(done.error?.kind, 'interrupted', JSON.stringify(done.error));
      else assert.equal(done.response, `done ${prompt}`);
    }
    const listed = await api.list({ limit: 100 });
    assert.equal(listed.items.length, accepted.length, 'nothing accepted is lost, nothing extra appears');
    const completed = listed.items.filter((t) => t.status === 'completed').length;
    // Only tasks running at the restart (two workers, two slots each) may have been interrupted.
    assert.ok(completed >= accepted.length - 4, `completed ${completed} of ${accepted.length}`);
    console.error(`pg restart: ${completed} of ${accepted.length} completed, the rest interrupted`);
    for (const node of cluster.nodes)
      assert.equal(node.process.child.exitCode, null, `${node.role} exited:\n${node.process.stderr().slice(-3000)}`);
  } finally {
    await cluster.close();
    await model.close();
  }
});

/** The api's pool may hand out a connection the restart broke; the client retries a refused submission. */
async function submitWhenBack(submit: () => Promise<Task>): Promise<Task> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      return await submit();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}
