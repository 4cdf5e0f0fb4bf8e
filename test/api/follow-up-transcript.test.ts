/**
 * A follow-up resumes from the transcript the Store kept (src/tasks/session-transcripts.ts), not from
 * the worker's own disk: with the task's config dir gone between turns, as on a worker that never ran
 * it, the follow-up still resumes, and the model sees the earlier conversation. Runs on the backend
 * SWITCHYARD_TEST_BACKEND names.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { SwitchyardClient } from '../../src/client/client.ts';
import type { Script } from '../../src/model/scripted-model.ts';
import { openStore } from '../../src/store/open-store.ts';
import { projectDirName } from '../../src/tasks/session-transcripts.ts';
import { type Harness, startHarness } from '../fixtures/harness.ts';

const script: Script = (req) => ({ text: req.lastUserText.includes('second') ? 'second done' : 'noted PINEAPPLE' });

/** Every text the model was sent in the request of the turn whose last user message names `word`. */
function requestText(requests: Array<{ lastUserText: string; body: unknown }>, word: string): string {
  const req = requests.findLast((r) => r.lastUserText.includes(word));
  assert.ok(req, `no model request for ${word}`);
  return JSON.stringify(req.body);
}

/**
 * Waits until the first turn's transcript is in the Store: the turn's result is answered before its
 * process has exited, and the transcript is kept only once it has.
 */
async function transcriptKept(h: Harness, id: string): Promise<void> {
  const { store } = await openStore(h.config);
  try {
    for (let i = 0; i < 400 && !(await store.getTranscript(id))?.content; i++)
      await new Promise((r) => setTimeout(r, 50));
    assert.ok((await store.getTranscript(id))?.content, 'the transcript was not kept within 20 s');
  } finally {
    await store.close();
  }
}

test('a follow-up resumes from the stored transcript when the config dir is gone (another worker)', async () => {
  const h = await startHarness({ script });
  try {
    const client = new SwitchyardClient({ baseUrl: h.url });
    const t = await client.submit({ prompt: 'first: remember the word', timeout: 60_000 });
    const first = await client.wait(t.id);
    assert.equal(first.status, 'completed');
    const configDir = path.join(h.dataDir, 'claude', t.id);
    const session = (await h.server.tasks.get(t.id)).agent_session_id;
    assert.ok(session);
    // Where Claude Code keeps it is where the restore puts it.
    const file = path.join(configDir, 'projects', projectDirName(h.workspace), `${session}.jsonl`);
    assert.ok(fs.existsSync(file), `Claude Code wrote no transcript at ${file}`);

    await transcriptKept(h, t.id);
    fs.rmSync(configDir, { recursive: true, force: true });
    await client.sendMessage(t.id, 'second');
    const second = await client.wait(t.id);
    assert.equal(second.status, 'completed', JSON.stringify(second.error));
    assert.equal(second.response, 'second done');
    const seen = requestText(h.model.requests, 'second');
    assert.match(seen, /first: remember the word/, 'the resumed turn did not carry the first prompt');
    assert.match(seen, /noted PINEAPPLE/, 'the resumed turn did not carry the first answer');
    assert.equal(fs.statSync(path.join(configDir, 'projects', projectDirName(h.workspace))).mode & 0o777, 0o700);
  } finally {
    await h.close();
  }
});

test('a link the agent left at the transcript path is replaced by the restore, not written through', async () => {
  const h = await startHarness({ script });
  try {
    const client = new SwitchyardClient({ baseUrl: h.url });
    const t = await client.submit({ prompt: 'first: remember the word', timeout: 60_000 });
    assert.equal((await client.wait(t.id)).status, 'completed');
    const session = (await h.server.tasks.get(t.id)).agent_session_id;
    const file = path.join(h.dataDir, 'claude', t.id, 'projects', projectDirName(h.workspace), `${session}.jsonl`);
    await transcriptKept(h, t.id);
    // The agent (whose HOME is the config dir) swaps its transcript for a link to a file elsewhere.
    const victim = path.join(h.workspace, 'victim.txt');
    fs.writeFileSync(victim, 'untouched');
    fs.rmSync(file);
    fs.symlinkSync(victim, file);

    await client.sendMessage(t.id, 'second');
    const second = await client.wait(t.id);
    assert.equal(second.status, 'completed', JSON.stringify(second.error));
    assert.match(requestText(h.model.requests, 'second'), /noted PINEAPPLE/);
    assert.equal(fs.readFileSync(victim, 'utf8'), 'untouched');
    const stat = fs.lstatSync(file);
    assert.ok(stat.isFile(), 'the link is still there');
    assert.equal(stat.mode & 0o777, 0o600);
  } finally {
    await h.close();
  }
});

test('the kept transcript is the redacted one: a secret the model repeated does not reach the database', async () => {
  const key = 'sk-ant-test-key-not-secret'; // the harness's configured model key
  const h = await startHarness({ script: () => ({ text: `the key is ${key}` }) });
  try {
    const client = new SwitchyardClient({ baseUrl: h.url });
    const t = await client.submit({ prompt: 'say the key', timeout: 60_000 });
    assert.equal((await client.wait(t.id)).status, 'completed');
    await transcriptKept(h, t.id);
    const { store } = await openStore(h.config);
    try {
      const kept = Buffer.from((await store.getTranscript(t.id))!.content!).toString('utf8');
      assert.match(kept, /the key is \[redacted\]/);
      assert.ok(!kept.includes(key), 'the key reached the kept transcript');
    } finally {
      await store.close();
    }
  } finally {
    await h.close();
  }
});
