/**
 * Kept session transcripts (src/tasks/session-transcripts.ts) on every Store backend: the Store's
 * fenced save and its read, and the module's size cap, path and shape checks on a real config dir.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { Store } from '../../src/store/store.ts';
import { projectDirName, restoreTranscript, saveTranscript } from '../../src/tasks/session-transcripts.ts';
import { tempDir } from '../fixtures/harness.ts';
import { newTask, storeBackends } from '../fixtures/store-backends.ts';

const SESSION = '0b5f1c9e-2d7a-4c1e-9f3b-6a8d2e4c1f70';
const OTHER_SESSION = '7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f';

async function runningTask(store: Store): Promise<{ id: string; attempt: number }> {
  const { task } = await store.createTask(newTask());
  const claimed = await store.claimTask(task.id, new Date().toISOString());
  assert.ok(claimed);
  return { id: task.id, attempt: claimed.attempts };
}

const bytes = (text: string) => new Uint8Array(Buffer.from(text, 'utf8'));

for (const backend of storeBackends()) {
  describe(`kept transcripts: ${backend.name}`, () => {
    async function withStore(work: (store: Store) => Promise<void>): Promise<void> {
      const db = await backend.create();
      const { store } = await db.open();
      try {
        await work(store);
      } finally {
        await store.close();
        db.destroy();
      }
    }

    test('a save replaces the earlier turn, keeps every byte, and lands only under the current attempt', () =>
      withStore(async (store) => {
        const { id, attempt } = await runningTask(store);
        const at = new Date().toISOString();
        // Bytes no text column would hold: NUL, an invalid UTF-8 sequence.
        const first = new Uint8Array([0x7b, 0x00, 0xff, 0xfe, 0x0a]);
        assert.equal(
          await store.saveTranscript(
            { task_id: id, session_id: SESSION, content: first, size: 5, updated_at: at },
            attempt,
          ),
          true,
        );
        assert.deepEqual(await store.getTranscript(id), {
          task_id: id,
          session_id: SESSION,
          content: first,
          size: 5,
          updated_at: at,
        });
        const second = bytes('{"turn":2}\n');
        assert.equal(
          await store.saveTranscript(
            { task_id: id, session_id: OTHER_SESSION, content: second, size: second.length, updated_at: at },
            attempt,
          ),
          true,
        );
        assert.equal((await store.getTranscript(id))?.session_id, OTHER_SESSION);
        assert.deepEqual((await store.getTranscript(id))?.content, second);

        // The follow-up was claimed (attempt + 1): the earlier attempt's late save is refused.
        await store.finishTask(id, { status: 'completed', response: 'x', result: null, error: null }, at, attempt);
        await store.queueMessage(id, 'more');
        assert.equal((await store.claimTask(id, at))?.attempts, attempt + 1);
        const stale = bytes('stale');
        assert.equal(
          await store.saveTranscript(
            { task_id: id, session_id: SESSION, content: stale, size: 5, updated_at: at },
            attempt,
          ),
          false,
        );
        assert.deepEqual((await store.getTranscript(id))?.content, second);
        // A task that does not exist keeps nothing.
        assert.equal(
          await store.saveTranscript(
            { task_id: 'nope', session_id: SESSION, content: stale, size: 5, updated_at: at },
            1,
          ),
          false,
        );
        assert.equal(await store.getTranscript('nope'), undefined);
        // A transcript too large to keep is recorded without content.
        assert.equal(
          await store.saveTranscript(
            { task_id: id, session_id: SESSION, content: null, size: 123, updated_at: at },
            attempt + 1,
          ),
          true,
        );
        assert.deepEqual(await store.getTranscript(id), {
          task_id: id,
          session_id: SESSION,
          content: null,
          size: 123,
          updated_at: at,
        });
      }));

    test('past the cap a transcript is not kept, and a follow-up elsewhere fails saying why', () =>
      withStore(async (store) => {
        const { id, attempt } = await runningTask(store);
        const root = tempDir('transcripts-');
        try {
          const cwd = path.join(root, 'work space');
          const configDir = path.join(root, 'claude-a');
          const folder = path.join(configDir, 'projects', projectDirName(cwd));
          fs.mkdirSync(folder, { recursive: true });
          fs.writeFileSync(path.join(folder, `${SESSION}.jsonl`), 'x'.repeat(2048));
          const place = { taskId: id, configDir, cwd, sessionId: SESSION };
          assert.equal(await saveTranscript(store, place, attempt, 1024), 'too_large');
          assert.deepEqual(
            { content: (await store.getTranscript(id))?.content, size: (await store.getTranscript(id))?.size },
            { content: null, size: 2048 },
          );
          // The worker that ran the turn still has it.
          assert.equal(await restoreTranscript(store, place, 1024), 'present');
          // Another worker does not.
          const elsewhere = { ...place, configDir: path.join(root, 'claude-b') };
          await assert.rejects(
            restoreTranscript(store, elsewhere, 1024),
            /2048 bytes, more than SWITCHYARD_MAX_TRANSCRIPT_BYTES \(1024\)/,
          );
          // Nor does a worker holding an earlier turn's copy: resuming it would drop the last turn.
          const earlier = path.join(root, 'claude-c', 'projects', projectDirName(cwd));
          fs.mkdirSync(earlier, { recursive: true });
          fs.writeFileSync(path.join(earlier, `${SESSION}.jsonl`), 'x'.repeat(100));
          await assert.rejects(
            restoreTranscript(store, { ...place, configDir: path.join(root, 'claude-c') }, 1024),
            /more than SWITCHYARD_MAX_TRANSCRIPT_BYTES/,
          );

          // Within the cap it is kept, and restored elsewhere byte for byte, 0600.
          assert.equal(await saveTranscript(store, place, attempt, 4096), 'saved');
          assert.equal(await restoreTranscript(store, elsewhere, 4096), 'restored');
          const restored = path.join(elsewhere.configDir, 'projects', projectDirName(cwd), `${SESSION}.jsonl`);
          assert.equal(fs.readFileSync(restored, 'utf8'), 'x'.repeat(2048));
          assert.equal(fs.statSync(restored).mode & 0o777, 0o600);
          // A local file from an earlier turn is replaced by the kept, later one.
          fs.writeFileSync(restored, 'earlier turn');
          assert.equal(await restoreTranscript(store, elsewhere, 4096), 'restored');
          assert.equal(fs.readFileSync(restored, 'utf8'), 'x'.repeat(2048));
          assert.equal(await restoreTranscript(store, elsewhere, 4096), 'present');
        } finally {
          fs.rmSync(root, { recursive: true, force: true });
        }
      }));

    test('a session id that is not a UUID never becomes a path; a linked folder is not written through', () =>
      withStore(async (store) => {
        const { id, attempt } = await runningTask(store);
        const root = tempDir('transcripts-');
        try {
          const cwd = path.join(root, 'w');
          const configDir = path.join(root, 'claude');
          fs.mkdirSync(configDir);
          for (const bad of ['../../escape', `${SESSION}/../x`, '', `${SESSION}.jsonl`]) {
            const place = { taskId: id, configDir, cwd, sessionId: bad };
            await assert.rejects(restoreTranscript(store, place, 1024), /is not a UUID/);
            await assert.rejects(saveTranscript(store, place, attempt, 1024), /is not a UUID/);
          }
          assert.deepEqual(fs.readdirSync(configDir), []);

          // The agent makes `projects` a link to a folder outside its config dir.
          const outside = path.join(root, 'outside');
          fs.mkdirSync(path.join(outside, projectDirName(cwd)), { recursive: true });
          fs.writeFileSync(path.join(outside, projectDirName(cwd), `${SESSION}.jsonl`), 'outside');
          fs.symlinkSync(outside, path.join(configDir, 'projects'));
          const place = { taskId: id, configDir, cwd, sessionId: SESSION };
          assert.equal(await saveTranscript(store, place, attempt, 1024), 'missing', 'read through the link');
          await store.saveTranscript(
            { task_id: id, session_id: SESSION, content: bytes('kept'), size: 4, updated_at: 'now' },
            attempt,
          );
          await assert.rejects(restoreTranscript(store, place, 1024), /holds a link where a folder belongs/);
          assert.equal(fs.readFileSync(path.join(outside, projectDirName(cwd), `${SESSION}.jsonl`), 'utf8'), 'outside');
        } finally {
          fs.rmSync(root, { recursive: true, force: true });
        }
      }));
  });
}

test('project folder names follow Claude Code: non-alphanumerics become -, long ones are cut and hashed', () => {
  assert.equal(projectDirName('/tmp/a b/c.d_e'), '-tmp-a-b-c-d-e');
  const long = `/${'x'.repeat(250)}`;
  assert.match(projectDirName(long), /^-x{199}-[0-9a-z]+$/);
  assert.notEqual(projectDirName(long), projectDirName(`${long}y`));
});
