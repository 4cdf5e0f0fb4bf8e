/**
 * Task events across nodes (src/tasks/task-events.ts over src/cluster/notifier-relay.ts), with two
 * TaskNotifiers standing in for two nodes: one real SQLite store, one in-process notifier. The writing
 * node's listeners hear its events directly; the other node's hear them read back from the store, in
 * seq order, each once, and the end with the stored task.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import { test } from 'node:test';
import pg from 'pg';
import { MemoryNotifier } from '../../src/cluster/notifier-memory.ts';
import { LISTEN_APPLICATION_NAME, PostgresNotifier } from '../../src/cluster/notifier-postgres.ts';
import { openStore } from '../../src/store/open-store.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { TaskEvent, TaskRecord } from '../../src/store/store.ts';
import { announceTerminal, TaskNotifier } from '../../src/tasks/task-events.ts';
import { tempDir } from '../fixtures/harness.ts';
import { postgresForTests } from '../fixtures/postgres.ts';

const postgres = postgresForTests();

function bounded<T>(what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not within the bound: ${what}`)), 10_000);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

test('events written on one node reach the other node in order, once each, and then the end', async () => {
  const dir = tempDir('relay-');
  const store = openSqliteStore(dir);
  const notifier = new MemoryNotifier();
  const writer = new TaskNotifier({ notifier, store });
  const reader = new TaskNotifier({ notifier, store });
  try {
    const { task } = await store.createTask({
      id: 'task-relay-1',
      request: { prompt: 'x' },
      policy: {},
      retry_safe: false,
      idempotency_key: null,
      idempotency_hash: null,
      metadata: null,
      webhook_url: null,
    });
    const at = new Date().toISOString();
    const event = (n: number) => ({ task_id: task.id, type: 'agent', data: { n }, created_at: at });
    // Written before the reader watched: the reader's client replays these from the store itself.
    writer.publishEvents(await store.appendEvents([event(1), event(2)]));

    const local: number[] = [];
    const remote: number[] = [];
    writer.onEvent(task.id, (e) => local.push(e.seq));
    let ended!: (t: TaskRecord) => void;
    const end = new Promise<TaskRecord>((resolve) => {
      ended = resolve;
    });
    reader.onTerminal(task.id, (t) => ended(t));
    let statusSeen!: () => void;
    const status = new Promise<void>((resolve) => {
      statusSeen = resolve;
    });
    reader.onEvent(task.id, (e: TaskEvent) => {
      remote.push(e.seq);
      if (e.type === 'status') statusSeen();
    });

    for (let i = 3; i <= 12; i += 2) writer.publishEvents(await store.appendEvents([event(i), event(i + 1)]));
    assert.equal(
      await store.finishTask(task.id, { status: 'completed', response: 'ok', result: null, error: null }, at),
      true,
    );
    const finished = (await store.getTask(task.id))!;
    await announceTerminal(store, writer, undefined, finished);

    await bounded('the reader hears the status event', status);
    const got = await bounded('the reader hears the end', end);
    assert.equal(got.status, 'completed');
    assert.equal(got.response, 'ok');
    // Everything since it started watching, in order, no repeats. (1 and 2 may come too: their notice was
    // still on its way when it started; a stream drops what its replay sent by seq.)
    assert.deepEqual(remote.slice(remote.indexOf(3)), [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
    assert.deepEqual(
      remote,
      [...remote].sort((x, y) => x - y),
    );
    assert.equal(new Set(remote).size, remote.length);
    assert.deepEqual(local, [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
  } finally {
    writer.close();
    reader.close();
    await notifier.close();
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a notice from a node that is not Switchyard-shaped is ignored', async () => {
  const dir = tempDir('relay-');
  const store = openSqliteStore(dir);
  const notifier = new MemoryNotifier();
  const reader = new TaskNotifier({ notifier, store });
  try {
    const heard: unknown[] = [];
    reader.onEvent('t', (e) => heard.push(e));
    for (const junk of [null, 'x', { id: 5 }, { id: 't', node: 'n', first: -1 }, { id: 'x'.repeat(500), node: 'n' }]) {
      await notifier.publish('tasks', junk);
    }
    // A well-formed notice after them is read (and finds nothing in the store): the junk did not break it.
    await notifier.publish('tasks', { id: 't', node: 'other', first: 1, last: 1 });
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(heard, []);
  } finally {
    reader.close();
    await notifier.close();
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('PostgreSQL: what a node missed while its notifier was reconnecting is read again after', async () => {
  const db = await postgres.createDatabase();
  const { store } = await openStore({ dataDir: os.tmpdir(), databaseUrl: db.url });
  // The reader reconnects only after 2 s: the writes below fall, for certain, into the gap.
  const writerNotifier = await PostgresNotifier.open({ url: db.url });
  const readerNotifier = await PostgresNotifier.open({ url: db.url, minBackoffMs: 2000, maxBackoffMs: 2000 });
  const writer = new TaskNotifier({ notifier: writerNotifier, store });
  const reader = new TaskNotifier({ notifier: readerNotifier, store });
  const admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  try {
    const { task } = await store.createTask({
      id: 'task-relay-pg',
      request: { prompt: 'x' },
      policy: {},
      retry_safe: false,
      idempotency_key: null,
      idempotency_hash: null,
      metadata: null,
      webhook_url: null,
    });
    const at = new Date().toISOString();
    const event = (n: number) => ({ task_id: task.id, type: 'agent', data: { n }, created_at: at });
    const remote: number[] = [];
    let first!: () => void;
    const heardFirst = new Promise<void>((resolve) => {
      first = resolve;
    });
    let ended!: (t: TaskRecord) => void;
    const end = new Promise<TaskRecord>((resolve) => {
      ended = resolve;
    });
    reader.onEvent(task.id, (e) => {
      remote.push(e.seq);
      first();
    });
    reader.onTerminal(task.id, (t) => ended(t));
    await readerNotifier.ready();
    writer.publishEvents(await store.appendEvents([event(1)]));
    await bounded('the reader hears the first event', heardFirst);

    // Drop the reader's listening session (only the reader's: the writer's stays), and wait until it is gone.
    const listeners = async () =>
      (
        await admin.query(
          'SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database() ORDER BY backend_start',
          [LISTEN_APPLICATION_NAME],
        )
      ).rows.map((r) => Number(r.pid));
    const [, readerPid] = await listeners();
    await admin.query('SELECT pg_terminate_backend($1)', [readerPid]);
    while ((await listeners()).includes(readerPid!)) await new Promise((resolve) => setTimeout(resolve, 10));

    writer.publishEvents(await store.appendEvents([event(2), event(3)]));
    await store.finishTask(task.id, { status: 'failed', response: null, result: null, error: null }, at);
    await announceTerminal(store, writer, undefined, (await store.getTask(task.id))!);

    const got = await bounded('the reader hears the end after reconnecting', end);
    assert.equal(got.status, 'failed');
    assert.deepEqual(remote, [1, 2, 3, 4]);
  } finally {
    await admin.end();
    writer.close();
    reader.close();
    await writerNotifier.close();
    await readerNotifier.close();
    await store.close();
  }
});
