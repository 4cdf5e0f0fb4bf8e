/**
 * Opens the stores the configuration names: SQLite in the data dir by default, PostgreSQL when
 * SWITCHYARD_DATABASE_URL is set. Nothing outside src/store/ knows which.
 *
 * @example
 * const { store, workflows } = await openStore(config);
 * // … later, once: closes both (they share one connection or pool)
 * await store.close();
 */
import type { Config } from '../config.ts';
import { openPostgresStore, type PostgresStore } from './postgres/postgres-store.ts';
import { PostgresWorkflowStore } from './postgres/postgres-workflow-store.ts';
import { lockDatabase } from './postgres/server-lock.ts';
import { openSqliteStore } from './sqlite/sqlite-store.ts';
import { SqliteWorkflowStore } from './sqlite/sqlite-workflow-store.ts';
import type { Store } from './store.ts';
import type { WorkflowStore } from './workflow-store.ts';

export interface Stores {
  dialect: 'sqlite' | 'postgres';
  store: Store;
  /** Shares `store`'s database; closing `store` closes it too. */
  workflows: WorkflowStore;
}

/**
 * `exclusive`: the database is this server's alone (PostgreSQL: server-lock.ts; SQLite is the data
 * dir's, which its own lock guards). Released when `store` closes.
 */
export async function openStore(
  config: Pick<Config, 'dataDir' | 'databaseUrl'>,
  options: { exclusive?: boolean } = {},
): Promise<Stores> {
  if (config.databaseUrl !== undefined) {
    const release = options.exclusive ? await lockDatabase(config.databaseUrl) : undefined;
    let store: PostgresStore;
    try {
      store = await openPostgresStore(config.databaseUrl, release ? { onClose: release } : {});
    } catch (err) {
      await release?.();
      throw err;
    }
    return { dialect: 'postgres', store, workflows: new PostgresWorkflowStore(store) };
  }
  const store = openSqliteStore(config.dataDir);
  return { dialect: 'sqlite', store, workflows: new SqliteWorkflowStore(store) };
}
