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
import { openPostgresStore } from './postgres/postgres-store.ts';
import { PostgresWorkflowStore } from './postgres/postgres-workflow-store.ts';
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

/** Any number of processes may open one PostgreSQL database (docs/cluster.md); SQLite's data dir has its own lock. */
export async function openStore(config: Pick<Config, 'dataDir' | 'databaseUrl'>): Promise<Stores> {
  if (config.databaseUrl !== undefined) {
    const store = await openPostgresStore(config.databaseUrl);
    return { dialect: 'postgres', store, workflows: new PostgresWorkflowStore(store) };
  }
  const store = openSqliteStore(config.dataDir);
  return { dialect: 'sqlite', store, workflows: new SqliteWorkflowStore(store) };
}
