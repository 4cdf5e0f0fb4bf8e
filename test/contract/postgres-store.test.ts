/**
 * What only PostgreSQL has to prove: several processes (here, several stores, each with its own pool)
 * sharing one database. Migrations started at once apply once; concurrent claims never hand one task to
 * two claimers; idempotency keys and event numbers hold across them.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import type { WorkflowDefinition } from '../../src/domain/workflow-definition.ts';
import { listMigrations, migrate } from '../../src/store/postgres/migrate.ts';
import { openPostgresStore, type PostgresStore } from '../../src/store/postgres/postgres-store.ts';
import { PostgresWorkflowStore } from '../../src/store/postgres/postgres-workflow-store.ts';
import { listMigrations as listSqliteMigrations } from '../../src/store/sqlite/migrate.ts';
import { postgresBinDir, postgresForTests } from '../fixtures/postgres.ts';
import { newTask } from '../fixtures/store-backends.ts';

const postgres = postgresForTests();

const now = () => new Date().toISOString();

test('three processes migrating a new database at once all succeed, and each migration applies once', async () => {
  const db = await postgres.createDatabase();
  const stores = await Promise.all([1, 2, 3].map(() => openPostgresStore(db.url, { max: 2 })));
  try {
    const { rows } = await stores[0]!.pool.query('SELECT version, name FROM schema_migrations ORDER BY version');
    assert.deepEqual(
      rows,
      listMigrations().map((m) => ({ version: m.version, name: m.name })),
    );
    assert.ok(rows.length >= 3);
    const tables = new Set(
      (
        await stores[0]!.pool.query<{ tablename: string }>(
          "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
        )
      ).rows.map((r) => r.tablename),
    );
    for (const t of ['tasks', 'task_events', 'webhook_deliveries', 'workflows', 'workflow_runs', 'workflow_steps'])
      assert.ok(tables.has(t), t);
    // A later start finds nothing to do.
    const again = await openPostgresStore(db.url, { max: 1 });
    await again.close();
  } finally {
    await Promise.all(stores.map((s) => s.close()));
  }
});

test('a failing migration rolls back whole, is not recorded, and leaves the lock free for the next start', async () => {
  const db = await postgres.createDatabase();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pg-migrations-'));
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  try {
    fs.writeFileSync(path.join(dir, '001_one.sql'), 'CREATE TABLE one (x INTEGER);');
    fs.writeFileSync(path.join(dir, '002_two.sql'), 'CREATE TABLE two (x INTEGER);\nINSERT INTO nowhere VALUES (1);');
    await assert.rejects(migrate(pool, dir), /migration 002_two\.sql failed/);
    const tables = async () =>
      (await pool.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")).rows.map(
        (r) => r.tablename,
      );
    assert.deepEqual(await tables(), ['one', 'schema_migrations']);
    fs.writeFileSync(path.join(dir, '002_two.sql'), 'CREATE TABLE two (x INTEGER);');
    assert.deepEqual(await migrate(pool, dir), [2]);
    assert.deepEqual(await tables(), ['one', 'schema_migrations', 'two']);
  } finally {
    await pool.end();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('every SQLite migration has a PostgreSQL twin of the same number and name, and no more', () => {
  const names = (list: Array<{ name: string }>) => list.map((m) => m.name);
  assert.deepEqual(names(listMigrations()), names(listSqliteMigrations()));
});

test('without PostgreSQL installed the fixture fails, saying how to install it (never a silent skip)', () => {
  assert.throws(
    () => postgresBinDir('/nonexistent/postgresql', '/nonexistent/pg_config'),
    /apt-get install postgresql/,
  );
});

describe('two processes on one database', () => {
  let a: PostgresStore;
  let b: PostgresStore;
  before(async () => {
    const db = await postgres.createDatabase();
    a = await openPostgresStore(db.url, { max: 4 });
    b = await openPostgresStore(db.url, { max: 4 });
  });
  after(async () => {
    await a?.close();
    await b?.close();
  });

  test('claiming at the same time, they never claim the same task, and every task is claimed', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 80; i++) ids.push((await (i % 2 ? a : b).createTask(newTask())).task.id);
    // Four claim loops per store: a store sends the claims waiting together in one statement (FIFO within
    // the process), so the race is between the two processes, on separate connections.
    const claimer = async (store: PostgresStore) => {
      const got: string[] = [];
      for (let i = 0; i <= ids.length; i++) {
        const task = await store.claimNextTask(now());
        if (!task) return got;
        got.push(task.id);
      }
      throw new Error('claimed more tasks than exist');
    };
    const claims = await Promise.all([a, a, a, a, b, b, b, b].map(claimer));
    const all = claims.flat();
    assert.equal(new Set(all).size, all.length, 'no task claimed twice');
    assert.deepEqual([...all].sort(), [...ids].sort());
    assert.equal(await a.countByStatus('running'), ids.length);
    assert.equal(await b.countByStatus('queued'), 0);
  });

  test('one idempotency key sent to both at once makes one task', async () => {
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        (i % 2 ? a : b).createTask(newTask({ idempotency_key: 'same', idempotency_hash: 'h' })),
      ),
    );
    assert.equal(results.filter((r) => r.created).length, 1);
    assert.equal(new Set(results.map((r) => r.task.id)).size, 1);
  });

  test('the same webhook delivery reaching both at once starts one run', async () => {
    const wa = new PostgresWorkflowStore(a);
    const wb = new PostgresWorkflowStore(b);
    const run = (id: string) => ({
      id,
      workflow: 'wf',
      version: 1,
      definition: { name: 'wf', steps: {} } as unknown as WorkflowDefinition,
      inputs: {},
      idempotency_key: null,
      idempotency_hash: null,
      created_at: now(),
    });
    // The event name is the sender's to choose: NUL included.
    const delivery = { hook: 'gh', delivery_id: 'same', event: 'pull_request\u0000.opened', received_at: now() };
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => (i % 2 ? wa : wb).createRunForDelivery(delivery, run(`run-${i}`), [])),
    );
    assert.equal(results.filter((r) => r.created).length, 1);
    assert.equal(new Set(results.map((r) => r.run.id)).size, 1);
    assert.deepEqual(await wa.getWebhookDelivery('gh', 'same'), { ...delivery, run_id: results[0]!.run.id });
    assert.equal((await a.pool.query('SELECT count(*)::int AS n FROM workflow_runs')).rows[0].n, 1);
  });

  test('events appended to one task from both at once are numbered 1…n without gaps', async () => {
    const at = now();
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        (i % 2 ? a : b).appendEvents([
          { task_id: 'shared', type: 't', data: { i }, created_at: at },
          { task_id: `own-${i % 3}`, type: 't', data: { i }, created_at: at },
        ]),
      ),
    );
    const events = await a.listEvents('shared', 0, 1000);
    assert.deepEqual(
      events.map((e) => e.seq),
      Array.from({ length: 40 }, (_, i) => i + 1),
    );
  });
});

test('a database that refuses the password fails to open with a message that does not hold the password', async () => {
  const db = await postgres.createDatabase();
  const admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  const role = `r_${Math.random().toString(36).slice(2, 10)}`;
  const password = 'correct-horse-battery-staple';
  try {
    await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
    // The private cluster trusts everyone, so a wrong password is shown by a role that does not exist.
    const url = new URL(db.url);
    url.username = `${role}_missing`;
    url.password = password;
    await assert.rejects(openPostgresStore(url.toString(), { max: 1 }), (err: Error) => {
      assert.ok(!String(err.message).includes(password), err.message);
      assert.ok(!String(err.stack).includes(password));
      return true;
    });
  } finally {
    await admin.query(`DROP ROLE IF EXISTS ${role}`);
    await admin.end();
  }
});
