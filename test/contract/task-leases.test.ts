/**
 * The Store's task methods for jobs dispatched through the queue driver, on every Store: a claim by
 * id, the retake of a dead attempt, and the attempt number as the fencing token of every later write.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Store, TaskFinish } from '../../src/store/store.ts';
import { newTask, storeBackends } from '../fixtures/store-backends.ts';

const now = () => new Date().toISOString();
const done = (response: string): TaskFinish => ({ status: 'completed', response, result: null, error: null });

for (const backend of storeBackends()) {
  describe(`Store task leases: ${backend.name}`, () => {
    async function open(): Promise<{ store: Store; cleanup: () => void }> {
      const db = await backend.create();
      return { store: (await db.open()).store, cleanup: db.destroy };
    }

    test('a task is claimed by id once: queued → running, attempts + 1', async () => {
      const { store, cleanup } = await open();
      try {
        const { task } = await store.createTask(newTask());
        const claims = await Promise.all([store.claimTask(task.id, now()), store.claimTask(task.id, now())]);
        const won = claims.filter((t) => t !== undefined);
        assert.equal(won.length, 1);
        assert.equal(won[0]!.status, 'running');
        assert.equal(won[0]!.attempts, 1);
        assert.equal(await store.claimTask('no-such-task', now()), undefined);
      } finally {
        await store.close();
        cleanup();
      }
    });

    test('a stale attempt cannot finish, append events or set the session over a newer one', async () => {
      const { store, cleanup } = await open();
      try {
        const { task } = await store.createTask(newTask({ retry_safe: true }));
        const first = (await store.claimTask(task.id, now()))!;
        // The first worker is presumed dead; another takes the task over as attempt 2.
        const second = (await store.retakeTask(task.id, first.attempts, now(), 2))!;
        assert.equal(second.attempts, 2);
        assert.equal(
          await store.retakeTask(task.id, first.attempts, now(), 2),
          undefined,
          'one retake per dead attempt',
        );
        const event = { task_id: task.id, type: 'agent', data: { text: 'stale' }, created_at: now() };
        assert.deepEqual(await store.appendEvents([event], first.attempts), []);
        await store.setAgentSession(task.id, 'stale-session', first.attempts);
        assert.equal(await store.finishTask(task.id, done('stale'), now(), first.attempts), false);
        let saved = (await store.getTask(task.id))!;
        assert.equal(saved.status, 'running');
        assert.equal(saved.agent_session_id, null);
        assert.deepEqual(await store.listEvents(task.id, 0, 10), []);
        // The current attempt's writes land.
        const fresh = { ...event, data: { text: 'fresh' } };
        assert.equal((await store.appendEvents([fresh], second.attempts)).length, 1);
        await store.setAgentSession(task.id, 'fresh-session', second.attempts);
        assert.equal(await store.finishTask(task.id, done('fresh'), now(), second.attempts), true);
        saved = (await store.getTask(task.id))!;
        assert.equal(saved.status, 'completed');
        assert.equal(saved.response, 'fresh');
        assert.equal(saved.agent_session_id, 'fresh-session');
        // And the stale one still loses afterwards.
        assert.equal(await store.finishTask(task.id, done('stale'), now(), first.attempts), false);
        assert.equal((await store.getTask(task.id))!.response, 'fresh');
        // Once ended (a cancel from another node, say), even the current attempt's events stop.
        assert.deepEqual(await store.appendEvents([{ ...event, data: { text: 'late' } }], second.attempts), []);
        assert.equal((await store.listEvents(task.id, 0, 10)).length, 1);
      } finally {
        await store.close();
        cleanup();
      }
    });

    test('a retake needs the task still running under the dead attempt', async () => {
      const { store, cleanup } = await open();
      try {
        const { task } = await store.createTask(newTask());
        assert.equal(await store.retakeTask(task.id, 0, now(), 2), undefined, 'a queued task is claimed, not retaken');
        const claimed = (await store.claimTask(task.id, now()))!;
        assert.equal(await store.finishTask(task.id, done('ok'), now(), claimed.attempts), true);
        assert.equal(await store.retakeTask(task.id, claimed.attempts, now(), 2), undefined, 'a finished task stays');
      } finally {
        await store.close();
        cleanup();
      }
    });

    test('a turn is retaken at most maxRetakes times; a follow-up starts its own count', async () => {
      const { store, cleanup } = await open();
      try {
        const { task } = await store.createTask(newTask({ retry_safe: true }));
        let t = (await store.claimTask(task.id, now()))!;
        t = (await store.retakeTask(task.id, t.attempts, now(), 2))!;
        t = (await store.retakeTask(task.id, t.attempts, now(), 2))!;
        assert.equal(t.attempts, 3);
        assert.equal(await store.retakeTask(task.id, t.attempts, now(), 2), undefined, 'out of retakes');
        assert.equal(await store.finishTask(task.id, done('ok'), now(), t.attempts), true);
        assert.equal(await store.queueMessage(task.id, 'more'), true);
        t = (await store.claimTask(task.id, now()))!;
        assert.equal(t.attempts, 4);
        assert.equal((await store.retakeTask(task.id, t.attempts, now(), 2))?.attempts, 5);
      } finally {
        await store.close();
        cleanup();
      }
    });

    test('queued tasks are listed oldest first by when they were queued, follow-ups included', async () => {
      const { store, cleanup } = await open();
      try {
        const a = (await store.createTask(newTask())).task;
        const b = (await store.createTask(newTask())).task;
        const c = (await store.createTask(newTask())).task;
        const claimed = (await store.claimTask(c.id, now()))!;
        await store.finishTask(c.id, done('c'), now(), claimed.attempts);
        const cut = new Date(Date.now() + 1000).toISOString();
        assert.deepEqual(await store.listQueuedTasks(cut, 10), [a.id, b.id]);
        assert.deepEqual(await store.listQueuedTasks(cut, 1), [a.id]);
        assert.deepEqual(await store.listQueuedTasks('2000-01-01T00:00:00.000Z', 10), []);
        // A follow-up queues the task again, as of now.
        assert.equal(await store.queueMessage(c.id, 'more'), true);
        assert.deepEqual((await store.listQueuedTasks(cut, 10)).sort(), [a.id, b.id, c.id].sort());
        assert.deepEqual(await store.listQueuedTasks(a.created_at, 10), [], 'only tasks queued before the cut');
      } finally {
        await store.close();
        cleanup();
      }
    });
  });
}
