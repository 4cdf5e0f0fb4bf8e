/**
 * One server per PostgreSQL database, for now. A server recovers every task it finds running as its own
 * orphan and sends every due webhook delivery, so a second server on the same database would fail the
 * first one's tasks and send its webhooks twice: the same rule as one server per data dir
 * (data-dir-lock.ts). Several api and worker processes sharing a database need leases and claimed
 * deliveries first (issue 9's roles); until then the second server is refused at start.
 *
 * The lock is a session advisory lock on a connection of its own, held for the server's life:
 * PostgreSQL drops it with the session when the process dies, so a crash never leaves it behind.
 */
import pg from 'pg';
import { AppError } from '../../errors.ts';

/** An arbitrary constant naming the server lock among the database's advisory locks. */
const SERVER_LOCK = 7_847_002;

/** Takes the database for this server; resolves to the release. */
export async function lockDatabase(url: string): Promise<() => Promise<void>> {
  const client = new pg.Client({ connectionString: url, application_name: 'switchyard-server-lock' });
  // A dropped connection loses the lock; the error must not end the process by itself.
  client.on('error', () => undefined);
  await client.connect();
  const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [SERVER_LOCK]);
  if (!rows[0]?.locked) {
    await client.end();
    throw new AppError(
      'conflict',
      'another Switchyard server already uses this database (SWITCHYARD_DATABASE_URL): one server per database ' +
        'until api and worker roles exist; stop the other one, or give this one its own database',
      { field: 'SWITCHYARD_DATABASE_URL' },
    );
  }
  return async () => {
    await client.end();
  };
}
