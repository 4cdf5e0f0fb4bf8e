/**
 * The Notifier contract (src/cluster/notifier.ts), run on both implementations: in-process, and
 * PostgreSQL LISTEN/NOTIFY with two notifiers on one database standing in for two nodes.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pg from 'pg';
import { MemoryNotifier } from '../../src/cluster/notifier-memory.ts';
import { type ClusterNotifier, openNotifier } from '../../src/cluster/notifier-open.ts';
import { LISTEN_APPLICATION_NAME } from '../../src/cluster/notifier-postgres.ts';
import { MAX_PAYLOAD_BYTES } from '../../src/cluster/notifier-wire.ts';
import { AppError } from '../../src/errors.ts';
import { postgresForTests } from '../fixtures/postgres.ts';

const postgres = postgresForTests();

interface Pair {
  /** Two nodes; on the in-process implementation both are the one notifier of the one process. */
  a: ClusterNotifier;
  b: ClusterNotifier;
  url?: string;
  close(): Promise<void>;
}

const BACKENDS: Array<{ name: string; pair(): Promise<Pair> }> = [
  {
    name: 'memory',
    async pair() {
      const n = new MemoryNotifier();
      return { a: n, b: n, close: () => n.close() };
    },
  },
  {
    name: 'postgres',
    async pair() {
      const db = await postgres.createDatabase();
      const a = await openNotifier({ databaseUrl: db.url });
      const b = await openNotifier({ databaseUrl: db.url });
      return {
        a,
        b,
        url: db.url,
        async close() {
          await a.close();
          await b.close();
        },
      };
    },
  },
];

/** The next payload on `channel` that `match` accepts; rejects after a bound instead of hanging the file. */
function next(n: ClusterNotifier, channel: string, match: (p: unknown) => boolean = () => true): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`nothing arrived on ${channel}`));
    }, 10_000);
    const off = n.subscribe(channel, (p) => {
      if (!match(p)) return;
      clearTimeout(timer);
      off();
      resolve(p);
    });
  });
}

for (const backend of BACKENDS) {
  describe(`Notifier contract: ${backend.name}`, () => {
    test('a publish reaches subscribers on every node, the publisher included, as a JSON copy', async () => {
      const { a, b, close } = await backend.pair();
      try {
        const onA = next(a, 'tasks');
        const onB = next(b, 'tasks');
        await Promise.all([a.ready(), b.ready()]);
        const sent = { task_id: 't-1', seq: 7, nested: { quote: `'"; NOTIFY x; --` } };
        await a.publish('tasks', sent);
        assert.deepEqual(await onA, sent);
        assert.deepEqual(await onB, sent);
        assert.notEqual(await onB, sent);
      } finally {
        await close();
      }
    });

    test('channels are separate, and an unsubscribed listener hears nothing more', async () => {
      const { a, b, close } = await backend.pair();
      try {
        const heard: unknown[] = [];
        const off = b.subscribe('runs', (p) => heard.push(p));
        const first = next(b, 'runs', (p) => (p as { n: number }).n === 1);
        const second = next(b, 'runs', (p) => (p as { n: number }).n === 2);
        const other: unknown[] = [];
        const offOther = b.subscribe('schedules', (p) => other.push(p));
        await b.ready();
        await a.publish('runs', { n: 1 });
        await first;
        assert.deepEqual(heard, [{ n: 1 }]);
        off();
        await a.publish('runs', { n: 2 });
        await second;
        assert.deepEqual(heard, [{ n: 1 }]);
        assert.deepEqual(other, []);
        offOther();
      } finally {
        await close();
      }
    });

    test('one listener that throws does not keep the others from hearing', async () => {
      const { a, b, close } = await backend.pair();
      try {
        const offBad = b.subscribe('tasks', () => {
          throw new Error('listener bug');
        });
        const heard = next(b, 'tasks');
        await b.ready();
        await a.publish('tasks', { ok: true });
        assert.deepEqual(await heard, { ok: true });
        offBad();
      } finally {
        await close();
      }
    });

    test('bad channel names and oversized payloads are refused with the reason', async () => {
      const { a, close } = await backend.pair();
      try {
        for (const bad of ['', 'Tasks', 'a-b', 'x"; DROP TABLE tasks; --', '1abc', 'a'.repeat(41)]) {
          assert.throws(
            () => a.subscribe(bad, () => {}),
            (err: AppError) => err instanceof AppError && err.field === 'channel',
          );
          await assert.rejects(a.publish(bad, {}), (err: AppError) => err.field === 'channel');
        }
        const big = { blob: 'x'.repeat(MAX_PAYLOAD_BYTES) };
        await assert.rejects(a.publish('tasks', big), (err: AppError) => {
          assert.equal(err.kind, 'validation');
          assert.equal(err.field, 'payload');
          assert.match(err.message, /more than 4000/);
          return true;
        });
      } finally {
        await close();
      }
    });
  });
}

describe('Notifier on PostgreSQL: reconnect', () => {
  test('a dropped listening session comes back, onReconnect runs, and later publishes arrive again', async () => {
    const db = await postgres.createDatabase();
    const options = { url: db.url, minBackoffMs: 20, maxBackoffMs: 200 };
    const { PostgresNotifier } = await import('../../src/cluster/notifier-postgres.ts');
    const a = await PostgresNotifier.open(options);
    const b = await PostgresNotifier.open(options);
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    try {
      const heard: unknown[] = [];
      b.subscribe('tasks', (p) => heard.push(p));
      await b.ready();
      const reconnected = Promise.all(
        [a, b].map(
          (n) =>
            new Promise<void>((resolve, reject) => {
              const timer = setTimeout(() => reject(new Error('onReconnect did not run')), 15_000);
              const off = n.onReconnect(() => {
                clearTimeout(timer);
                off();
                resolve();
              });
            }),
        ),
      );
      const { rows } = await admin.query(
        'SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()',
        [LISTEN_APPLICATION_NAME],
      );
      assert.equal(rows.length, 2, 'both listening sessions were found and terminated');
      await reconnected;
      const after = next(b, 'tasks', (p) => (p as { n?: number }).n === 2);
      await b.ready();
      await a.publish('tasks', { n: 2 });
      assert.deepEqual(await after, { n: 2 });
      assert.ok(
        heard.some((p) => (p as { n?: number }).n === 2),
        'the subscription made before the drop hears again',
      );
    } finally {
      await admin.end();
      await a.close();
      await b.close();
    }
  });
});
