/**
 * A follow-up message while the previous Claude Code process of the same task is still exiting. The
 * exit is held open by a SessionEnd hook of the workspace (SWITCHYARD_PROJECT_SETTINGS) that waits
 * for a file the test creates, so the window is as wide as the test needs, without sleeps.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { SwitchyardClient, type TaskStreamEvent } from '../../src/client/client.ts';
import type { Script } from '../../src/model/scripted-model.ts';
import { type Harness, startHarness } from '../fixtures/harness.ts';

/** Every Claude Code session in the workspace waits at its exit until the returned function is called. */
function holdExits(h: Harness): () => void {
  const release = path.join(h.workspace, 'release-exit');
  const wait = `while [ ! -e ${release} ]; do sleep 0.05; done`;
  fs.mkdirSync(path.join(h.workspace, '.claude'));
  fs.writeFileSync(
    path.join(h.workspace, '.claude/settings.json'),
    JSON.stringify({ hooks: { SessionEnd: [{ hooks: [{ type: 'command', command: wait, timeout: 60 }] }] } }),
  );
  return () => fs.writeFileSync(release, '');
}

/** The follow-up hangs at the model, so it runs until something stops it. */
const script: Script = (req) => (req.lastUserText.includes('second') ? { hang: true } : { text: 'first done' });

async function lastEventId(client: SwitchyardClient, id: string): Promise<number> {
  let last = 0;
  for await (const e of client.events(id)) last = e.id;
  return last;
}

async function until(events: AsyncIterator<TaskStreamEvent>, match: (e: TaskStreamEvent) => boolean) {
  for (;;) {
    const next = await events.next();
    assert.ok(!next.done, 'the stream ended first');
    if (match(next.value)) return next.value;
  }
}

test('a follow-up that starts while the previous process exits can still be cancelled, and shutdown waits for it', async () => {
  const h = await startHarness({ script, env: { SWITCHYARD_PROJECT_SETTINGS: '1' } });
  let closed = false;
  try {
    const release = holdExits(h);
    const client = new SwitchyardClient({ baseUrl: h.url });
    const t = await client.submit({ prompt: 'first', timeout: 60_000 });
    assert.equal((await client.wait(t.id)).status, 'completed');
    const after = await lastEventId(client, t.id);
    await client.sendMessage(t.id, 'second');
    const events = client.events(t.id, { afterId: after })[Symbol.asyncIterator]();
    // Claimed (it waits for the first process to be gone), then the first process exits.
    await until(events, (e) => e.type === 'status' && (e.data as { status: string }).status === 'running');
    release();
    await until(events, (e) => e.type === 'system');
    const cancelled = await client.cancel(t.id);
    assert.equal(cancelled.status, 'failed');
    assert.equal(cancelled.error?.kind, 'cancelled');
    assert.equal(cancelled.error?.message, 'task was cancelled', 'the running follow-up was not stopped');
    await events.return?.(undefined);
    await h.close();
    closed = true;
  } finally {
    if (!closed) await h.close();
  }
});

test('a queued follow-up is cancelled at once while the previous process still exits', async () => {
  const h = await startHarness({ script, env: { SWITCHYARD_PROJECT_SETTINGS: '1', SWITCHYARD_CONCURRENCY: '1' } });
  try {
    const release = holdExits(h);
    const client = new SwitchyardClient({ baseUrl: h.url });
    const t = await client.submit({ prompt: 'first', timeout: 60_000 });
    assert.equal((await client.wait(t.id)).status, 'completed');
    // The only slot is held until the first process is gone, so the follow-up stays queued.
    assert.equal((await client.sendMessage(t.id, 'second')).status, 'queued');
    const cancelled = await client.cancel(t.id);
    assert.equal(cancelled.status, 'failed');
    assert.equal(cancelled.error?.kind, 'cancelled');
    release();
    // FIFO with one slot: had the follow-up stayed queued, it would run (and hang) before this one.
    const next = await client.submit({ prompt: 'third', timeout: 60_000 });
    assert.equal((await client.wait(next.id)).status, 'completed');
    assert.equal((await client.get(t.id)).status, 'failed');
    assert.equal(h.model.requests.filter((r) => r.lastUserText.includes('second')).length, 0);
  } finally {
    await h.close();
  }
});
