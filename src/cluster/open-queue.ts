/**
 * Opens the queue driver the configuration names, as openStore opens the stores: in-process on SQLite,
 * pg-boss when SWITCHYARD_DATABASE_URL is set. Nothing outside src/cluster/ knows which.
 */
import type { Config } from '../config.ts';
import type { QueueDriver } from './queue-driver.ts';
import { EmbeddedQueueDriver } from './queue-embedded.ts';
import { PgBossQueueDriver } from './queue-pgboss.ts';

export interface OpenedQueue {
  driver: QueueDriver;
  /**
   * True when other processes share the queue (and the Store): work found `running` at start may be
   * theirs, so only the driver's redelivery may decide it is orphaned.
   */
  shared: boolean;
}

export async function openQueueDriver(
  config: Pick<Config, 'databaseUrl' | 'leaseSeconds'>,
  options: { onError?: (err: unknown) => void } = {},
): Promise<OpenedQueue> {
  if (config.databaseUrl === undefined) return { driver: new EmbeddedQueueDriver(), shared: false };
  const driver = await PgBossQueueDriver.open({
    url: config.databaseUrl,
    leaseSeconds: config.leaseSeconds,
    monitorSeconds: monitorSecondsFor(config.leaseSeconds),
    ...(options.onError ? { onError: options.onError } : {}),
  });
  return { driver, shared: true };
}

/** Expired leases are looked for a few times per lease: a dead worker is noticed within ~1.25 leases. */
export function monitorSecondsFor(leaseSeconds: number): number {
  return Math.max(1, Math.floor(leaseSeconds / 4));
}
