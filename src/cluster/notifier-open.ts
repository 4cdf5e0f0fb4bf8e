/**
 * Opens the Notifier the configuration names, as open-store.ts opens the stores: in-process on SQLite
 * (one process), LISTEN/NOTIFY when SWITCHYARD_DATABASE_URL points every node at one PostgreSQL.
 *
 * @example
 * const notifier = await openNotifier(config, { onError: (err) => logger.warn({ err }, 'notifier') });
 * const off = notifier.subscribe('tasks', (payload) => …);
 * await notifier.ready(); // subscriptions made so far are live
 * await notifier.publish('tasks', { task_id });
 */
import type { Config } from '../config.ts';
import type { Notifier } from './notifier.ts';
import { MemoryNotifier } from './notifier-memory.ts';
import { PostgresNotifier } from './notifier-postgres.ts';

export interface ClusterNotifier extends Notifier {
  /**
   * True when other processes publish on it too (PostgreSQL): then a notice can be missed (a dropped
   * connection) and readers keep a slow periodic re-read as a floor. False in one process.
   */
  readonly shared: boolean;
  /** Resolves once every subscription made so far receives what is published from now on. */
  ready(): Promise<void>;
}

export async function openNotifier(
  config: Pick<Config, 'databaseUrl'>,
  options: { onError?: (err: unknown) => void } = {},
): Promise<ClusterNotifier> {
  if (config.databaseUrl !== undefined) return PostgresNotifier.open({ url: config.databaseUrl, ...options });
  return new MemoryNotifier(options);
}
