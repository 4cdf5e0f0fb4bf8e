/**
 * The Store contract: every implementation passes this suite, unchanged: SQLite and PostgreSQL
 * (test/fixtures/store-backends.ts lists them). A fresh database per test.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { DatabaseSync } from 'node:sqlite';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { listMigrations } from '../../src/store/sqlite/migrate.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { Store } from '../../src/store/store.ts';
import { tempDir } from '../fixtures/harness.ts';
import { newTask, storeBackends } from '../fixtures/store-backends.ts';

const IMPLEMENTATIONS: Array<{
  name: string;
  open: () => Promise<{ store: Store; reopen: () => Promise<Store>; cleanup: () => void }>;
}> = storeBackends().map((backend) => ({
  name: backend.name,
  open: async () => {
    const db = await backend.create();
    return {
      store: (await db.open()).store,
      reopen: async () => (await db.open()).store,
      cleanup: db.destroy,
    };
  },
}));

const now = () => new Date().toISOString();

for (const impl of IMPLEMENTATIONS) {
  describe(`Store contract: ${impl.name}`, () => {
    test('tasks are claimed FIFO, once each, by claims issued together', async () => {
      const { store, cleanup } = await impl.open();
      try {
        const ids = [];
        for (let i = 0; i < 20; i++) ids.push((await store.createTask(newTask())).task.id);
        const claims = await Promise.all(Array.from({ length: 25 }, () => store.claimNextTask(now())));
        const claimed = claims.filter((t) => t !== undefined).map((t) => t.id);
        assert.deepEqual(claimed, ids);
        assert.equal(await store.countByStatus('running'), 20);
      } finally {
        await store.close();
        cleanup();
      }
    });

    test('idempotency: same key and hash returns the first task; another hash is a conflict', async () => {
      const { store, cleanup } = await impl.open();
      try {
        const a = await store.createTask(newTask({ idempotency_key: 'k', idempotency_hash: 'h1' }));
        const b = await store.createTask(newTask({ idempotency_key: 'k', idempotency_hash: 'h1' }));
        assert.equal(a.created, true);
        assert.equal(b.created, false);
        assert.equal(b.task.id, a.task.id);
        await assert.rejects(
          store.createTask(newTask({ idempotency_key: 'k', idempotency_hash: 'h2' })),
          /Idempotency-Key/,
        );
      } finally {
        await store.close();
        cleanup();
      }
    });

    test('a failing write in a batch does not lose the others', async () => {
      const { store, cleanup } = await impl.open();
      try {
        await store.createTask(newTask({ idempotency_key: 'x', idempotency_hash: 'h' }));
        const results = await Promise.allSettled([
          store.createTask(newTask()),
          store.createTask(newTask({ idempotency_key: 'x', idempotency_hash: 'other' })),
          store.createTask(newTask()),
        ]);
        assert.deepEqual(
          results.map((r) => r.status),
          ['fulfilled', 'rejected', 'fulfilled'],
        );
        assert.equal(await store.countByStatus('queued'), 3);
      } finally {
        await store.close();
        cleanup();
      }
    });

    test('finish is once only; a follow-up message requeues a terminal task', async () => {
      const { store, cleanup } = await impl.open();
      try {
        const { task } = await store.createTask(newTask());
        await store.claimNextTask(now());
        const done = { status: 'completed' as const, response: 'r', result: { a: 1 }, error: null };
        assert.equal(await store.finishTask(task.id, done, now()), true);
        assert.equal(await store.finishTask(task.id, { ...done, status: 'failed' }, now()), false);
        assert.equal((await store.getTask(task.id))?.status, 'completed');
        assert.equal(await store.queueMessage(task.id, 'more'), true);
        const again = await store.claimNextTask(now());
        assert.equal(again?.id, task.id);
        assert.equal(again?.pending_message, 'more');
        assert.equal(again?.attempts, 2);
        assert.equal(await store.queueMessage(task.id, 'while running'), false);
      } finally {
        await store.close();
        cleanup();
      }
    });

    test('recovery after a crash: running tasks become interrupted, or queued when retry_safe', async () => {
      const { store, reopen, cleanup } = await impl.open();
      const plain = (await store.createTask(newTask())).task;
      const safe = (await store.createTask(newTask({ retry_safe: true }))).task;
      const waiting = (await store.createTask(newTask())).task;
      await store.claimNextTask(now());
      await store.claimNextTask(now());
      await store.close();
      const again = await reopen();
      try {
        const report = await again.recoverInterrupted(now());
        assert.deepEqual(report, { requeued: [safe.id], interrupted: [plain.id] });
        assert.equal((await again.getTask(plain.id))?.error?.kind, 'interrupted');
        assert.equal((await again.getTask(safe.id))?.status, 'queued');
        assert.equal((await again.getTask(waiting.id))?.status, 'queued');
      } finally {
        await again.close();
        cleanup();
      }
    });

    test('events get gapless per-task sequence numbers and page after a seq', async () => {
      const { store, cleanup } = await impl.open();
      try {
        const at = now();
        const saved = await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            store.appendEvents([{ task_id: i % 2 ? 'a' : 'b', type: 't', data: { i }, created_at: at }]),
          ),
        );
        assert.equal(saved.flat().length, 10);
        const a = await store.listEvents('a', 0, 100);
        assert.deepEqual(
          a.map((e) => e.seq),
          [1, 2, 3, 4, 5],
        );
        assert.deepEqual(
          (await store.listEvents('a', 3, 100)).map((e) => e.seq),
          [4, 5],
        );
      } finally {
        await store.close();
        cleanup();
      }
    });

    test('list pages newest first with a cursor and filters by status', async () => {
      const { store, cleanup } = await impl.open();
      try {
        const ids = [];
        for (let i = 0; i < 5; i++) ids.push((await store.createTask(newTask())).task.id);
        await store.claimNextTask(now());
        const p1 = await store.listTasks({ limit: 3 });
        const p2 = await store.listTasks({ limit: 3, cursor: p1.next_cursor! });
        assert.deepEqual(
          [...p1.items, ...p2.items].map((t) => t.id),
          ids.reverse(),
        );
        assert.equal(p2.next_cursor, null);
        assert.equal((await store.listTasks({ limit: 10, status: 'running' })).items.length, 1);
      } finally {
        await store.close();
        cleanup();
      }
    });

    test('attacker-written text with NUL characters and lone surrogates is stored and read back', async () => {
      const { store, cleanup } = await impl.open();
      try {
        const nasty = 'a\u0000b \ud800 c\udfff \u2028 "\\\'; DROP TABLE tasks; --';
        const { task } = await store.createTask(newTask({ request: { prompt: nasty }, metadata: { [nasty]: nasty } }));
        await store.claimNextTask(now());
        const finish = { status: 'completed' as const, response: nasty, result: { nasty }, error: null };
        assert.equal(await store.finishTask(task.id, finish, now()), true);
        const done = await store.getTask(task.id);
        assert.equal(done?.request.prompt, nasty);
        assert.deepEqual(done?.metadata, { [nasty]: nasty });
        assert.deepEqual(done?.result, { nasty });
        // Text columns: NUL kept; a lone surrogate may come back as U+FFFD (UTF-8 cannot hold it), no worse.
        assert.equal(done?.response?.toWellFormed(), nasty.toWellFormed());
        assert.equal(await store.queueMessage(task.id, nasty), true);
        assert.equal((await store.getTask(task.id))?.pending_message?.toWellFormed(), nasty.toWellFormed());
        await store.appendEvents([{ task_id: task.id, type: 'assistant', data: { text: nasty }, created_at: now() }]);
        assert.deepEqual((await store.listEvents(task.id, 0, 10))[0]?.data, { text: nasty });
      } finally {
        await store.close();
        cleanup();
      }
    });

    test('webhook deliveries: due ones are listed; a finished one is not', async () => {
      const { store, cleanup } = await impl.open();
      try {
        await store.addWebhookDelivery('t', 'http://x.test/h', '{}', now());
        const lease = new Date(Date.now() + 30_000).toISOString();
        const [d] = await store.dueWebhookDeliveries(now(), 10, lease);
        assert.ok(d);
        const later = new Date(Date.now() + 60_000).toISOString();
        await store.recordWebhookAttempt(d.id, false, later, 'boom');
        assert.equal((await store.dueWebhookDeliveries(now(), 10, lease)).length, 0);
        const afterLater = new Date(Date.parse(later) + 30_000).toISOString();
        assert.equal((await store.dueWebhookDeliveries(later, 10, afterLater))[0]?.attempts, 1);
        await store.recordWebhookAttempt(d.id, true, null, null);
        assert.equal((await store.dueWebhookDeliveries(afterLater, 10, afterLater)).length, 0);
      } finally {
        await store.close();
        cleanup();
      }
    });

    test('webhook deliveries: two senders on one database never claim one delivery; a lease runs out', async () => {
      const { store, reopen, cleanup } = await impl.open();
      const other = await reopen();
      try {
        const t0 = now();
        for (let i = 0; i < 30; i++) await store.addWebhookDelivery(`t${i}`, 'http://x.test/h', '{}', t0);
        const leaseUntil = new Date(Date.now() + 60_000).toISOString();
        const claims = await Promise.all(
          [store, other, store, other].map((s) => s.dueWebhookDeliveries(now(), 20, leaseUntil)),
        );
        const ids = claims.flat().map((d) => d.id);
        assert.equal(ids.length, 30, 'every due delivery was claimed');
        assert.equal(new Set(ids).size, 30, 'and none twice');
        // Claimed is not due again, for anyone, until the lease ends (a sender that died mid-attempt).
        assert.equal((await other.dueWebhookDeliveries(now(), 50, leaseUntil)).length, 0);
        const reclaimed = await other.dueWebhookDeliveries(
          leaseUntil,
          50,
          new Date(Date.now() + 120_000).toISOString(),
        );
        assert.equal(reclaimed.length, 30);
      } finally {
        await other.close();
        await store.close();
        cleanup();
      }
    });
  });
}

test('sqlite: two processes migrating the same new database at once both succeed, once', async () => {
  const dir = tempDir('migrate-race-');
  const script = `
    import { openSqliteStore } from ${JSON.stringify(path.resolve('src/store/sqlite/sqlite-store.ts'))};
    const s = openSqliteStore(process.argv[1]); await s.close();`;
  const run = promisify(execFile);
  try {
    await Promise.all([1, 2, 3].map(() => run(process.execPath, ['--input-type=module', '-e', script, dir])));
    // Every process succeeded, so none applied a migration twice (each CREATE TABLE would fail the
    // second time). Now check that every migration was applied, and that its tables exist.
    // Read with a bare connection: opening a store would apply whatever the race left out.
    const db = new DatabaseSync(path.join(dir, 'switchyard.db'), { readOnly: true });
    const recorded = db.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all();
    assert.deepEqual(
      recorded.map((r) => ({ version: r.version, name: r.name })),
      listMigrations().map((m) => ({ version: m.version, name: m.name })),
    );
    assert.ok(recorded.length >= 2, 'the tasks and the workflows migrations');
    const tables = new Set(
      db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .all()
        .map((r) => r.name),
    );
    for (const m of listMigrations()) {
      for (const [, table] of m.sql.matchAll(/CREATE TABLE (\w+)/g))
        assert.ok(tables.has(table!), `${m.name}: ${table}`);
    }
    db.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('sqlite: three processes claiming from one database at once claim every task once, in FIFO order', async () => {
  const dir = tempDir('claim-race-');
  const store = openSqliteStore(dir);
  const ids: string[] = [];
  for (let i = 0; i < 60; i++) ids.push((await store.createTask(newTask())).task.id);
  // Each process opens its own connection and claims one task per "claim" line. Every round sends the
  // line to all three before reading any answer, so three connections race for the same next task.
  const script = `
    import readline from 'node:readline';
    import { openSqliteStore } from ${JSON.stringify(path.resolve('src/store/sqlite/sqlite-store.ts'))};
    const s = openSqliteStore(process.argv[1]);
    console.log('ready');
    for await (const line of readline.createInterface({ input: process.stdin })) {
      console.log(JSON.stringify((await s.claimNextTask(new Date().toISOString()))?.id ?? null));
    }
    await s.close();`;
  const children = [1, 2, 3].map(() => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, dir], { stdio: 'pipe' });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    return { child, exited, lines: readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]() };
  });
  const next = async (c: (typeof children)[number]) => {
    const line = await c.lines.next();
    if (line.done) throw new Error(`a claiming process ended early: exit ${await c.exited}`);
    return line.value;
  };
  try {
    for (const c of children) assert.equal(await next(c), 'ready');
    const rounds: string[][] = [];
    for (let r = 0; r <= ids.length; r++) {
      for (const c of children) c.child.stdin.write('claim\n');
      const got = (await Promise.all(children.map(next))).map((l) => JSON.parse(l) as string | null);
      if (got.every((id) => id === null)) break;
      rounds.push(got.filter((id): id is string => id !== null));
    }
    const all = rounds.flat();
    assert.equal(all.length, ids.length, 'each task claimed once');
    assert.deepEqual([...all].sort(), [...ids].sort());
    // FIFO across connections: each round took the three oldest tasks still queued.
    assert.deepEqual(
      rounds.map((round) => [...round].sort()),
      rounds.map((_, r) => ids.slice(3 * r, 3 * r + 3).sort()),
    );
    for (const c of children) c.child.stdin.end();
    assert.deepEqual(await Promise.all(children.map((c) => c.exited)), [0, 0, 0]);
    assert.equal(await store.countByStatus('running'), ids.length);
  } finally {
    for (const c of children) c.child.kill();
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
