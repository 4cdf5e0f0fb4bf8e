/**
 * Forward-only numbered migrations in PostgreSQL's dialect (./migrations), recorded in schema_migrations.
 * Applied under a session advisory lock, so processes starting at once serialize: the first applies, the
 * others wait, then find every version recorded. Each migration commits with its record or not at all
 * (PostgreSQL's DDL is transactional).
 *
 * Each SQLite migration has a twin here with the same number and name (a test holds them in step): a
 * new SQLite migration needs its PostgreSQL twin, and its store methods theirs, before the suites pass.
 */
import path from 'node:path';
import type { Pool } from 'pg';
import { listMigrations as listMigrationFiles } from '../sqlite/migrate.ts';

const MIGRATIONS_DIR = path.join(import.meta.dirname, 'migrations');

/** An arbitrary constant naming Switchyard's migration lock among the database's advisory locks. */
const MIGRATION_LOCK = 7_847_001;

/** This dialect's migrations, in order (the file naming and reading is shared with SQLite's). */
export function listMigrations(dir = MIGRATIONS_DIR): Array<{ version: number; name: string; sql: string }> {
  return listMigrationFiles(dir);
}

export async function migrate(pool: Pool, dir = MIGRATIONS_DIR): Promise<number[]> {
  const client = await pool.connect();
  const applied: number[] = [];
  let failed: Error | undefined;
  try {
    // Waits while another process migrates; PostgreSQL drops the lock with the session if that one dies.
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await client.query(
        'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)',
      );
      const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations');
      const done = new Set(rows.map((r) => r.version));
      for (const m of listMigrations(dir)) {
        if (done.has(m.version)) continue;
        await client.query('BEGIN');
        try {
          await client.query(m.sql);
          await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
            m.version,
            m.name,
            new Date().toISOString(),
          ]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK');
          throw new Error(`migration ${m.name} failed: ${(err as Error).message}`, { cause: err });
        }
        applied.push(m.version);
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    }
  } catch (err) {
    failed = err as Error;
    throw err;
  } finally {
    // After a failure the connection is closed, not pooled: whatever state it is in (a lock still held,
    // an aborted transaction) ends with its session.
    client.release(failed);
  }
  return applied;
}
