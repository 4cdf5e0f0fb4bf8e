/**
 * A follow-up message on a cluster runs on whichever worker takes its job, which need not be the one
 * that ran the task's first turn and holds Claude Code's transcript on its disk. Here it cannot be:
 * the first worker is killed after the first turn, and the follow-up, sent through the api node,
 * resumes on the other from the transcript kept in PostgreSQL (src/tasks/session-transcripts.ts).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { type Script, startScriptedModel } from '../../src/model/scripted-model.ts';
import { openPostgresStore } from '../../src/store/postgres/postgres-store.ts';
import { settled, startCluster } from '../fixtures/cluster.ts';
import { postgresForTests } from '../fixtures/postgres.ts';

const pg = postgresForTests();

test('a follow-up resumes on another worker after the one that ran the first turn is killed', {
  timeout: 240_000,
}, async () => {
  const script: Script = (req) => ({
    text: req.lastUserText.includes('second') ? 'second done' : 'noted PINEAPPLE',
  });
  const model = await startScriptedModel(script);
  const db = await pg.createDatabase();
  // One worker at first, so the first turn runs on it.
  const cluster = await startCluster({ databaseUrl: db.url, modelUrl: model.url, roles: ['api', 'worker'] });
  const store = await openPostgresStore(db.url);
  try {
    const api = cluster.apis[0]!.client;
    const first = cluster.workers[0]!;
    const t = await api.submit({ prompt: 'first: remember the word', timeout: 60_000 });
    const one = await settled(api, t.id, 90_000);
    assert.equal(one.status, 'completed', JSON.stringify(one.error));
    assert.ok(
      fs.existsSync(path.join(first.dataDir, 'claude', t.id)),
      'the first turn did not run on the first worker',
    );
    // The turn is answered before its process has exited; the transcript is kept once it has.
    for (let i = 0; i < 400 && !(await store.getTranscript(t.id))?.content; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok((await store.getTranscript(t.id))?.content, 'the transcript was not kept within 20 s');

    const second = await cluster.add('worker');
    first.process.child.kill('SIGKILL');
    await first.process.exited;

    await api.sendMessage(t.id, 'second');
    const two = await settled(api, t.id, 90_000);
    assert.equal(two.status, 'completed', JSON.stringify(two.error));
    assert.equal(two.response, 'second done');
    assert.ok(
      fs.existsSync(path.join(second.dataDir, 'claude', t.id)),
      'the follow-up did not run on the second worker',
    );
    const req = model.requests.findLast((r) => r.lastUserText.includes('second'));
    assert.ok(req, 'the model never saw the follow-up');
    const seen = JSON.stringify(req.body);
    assert.match(seen, /first: remember the word/, 'the follow-up did not carry the first prompt');
    assert.match(seen, /noted PINEAPPLE/, 'the follow-up did not carry the first answer');
  } finally {
    await store.close();
    await cluster.close();
    await model.close();
  }
});
