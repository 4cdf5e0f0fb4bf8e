/**
 * The QueueDriver contract (src/cluster/queue-driver.ts), run on both drivers: the embedded one and
 * pg-boss on a real PostgreSQL (a fresh database per test). pg-boss runs with the shortest lease it
 * allows (10 s) and a monitor every second, so the dead-process test waits about 11 s.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { QueueDriver, QueueJob } from '../../src/cluster/queue-driver.ts';
import { EmbeddedQueueDriver } from '../../src/cluster/queue-embedded.ts';
import { PgBossQueueDriver } from '../../src/cluster/queue-pgboss.ts';
import { tempDir } from '../fixtures/harness.ts';
import { postgresForTests } from '../fixtures/postgres.ts';

const pg = postgresForTests();
const LEASE = 10;

interface Backend {
  name: string;
  /** Two drivers on one queue: the same one in-process, two pg-boss instances on one database. */
  open(): Promise<{ a: QueueDriver; b: QueueDriver; url?: string; close(): Promise<void> }>;
}

const BACKENDS: Backend[] = [
  {
    name: 'embedded',
    async open() {
      const a = new EmbeddedQueueDriver();
      return { a, b: a, close: () => a.stop(0) };
    },
  },
  {
    name: 'pg-boss',
    async open() {
      const db = await pg.createDatabase();
      const opts = { url: db.url, leaseSeconds: LEASE, monitorSeconds: 1 };
      const a = await PgBossQueueDriver.open(opts);
      const b = await PgBossQueueDriver.open(opts);
      return {
        a,
        b,
        url: db.url,
        async close() {
          await Promise.all([a.stop(0), b.stop(0)]);
        },
      };
    },
  },
];

async function waitFor(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A promise with its resolve, for handlers the test lets go of. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open = () => {};
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

for (const backend of BACKENDS) {
  describe(`QueueDriver contract: ${backend.name}`, () => {
    test('each job reaches exactly one handler', async () => {
      const q = await backend.open();
      try {
        const seen: string[] = [];
        const handler = async (job: QueueJob) => {
          seen.push(job.id);
          assert.equal(job.deliveries, 1);
        };
        await q.a.work('task', { concurrency: 3 }, handler);
        if (q.b !== q.a) await q.b.work('task', { concurrency: 3 }, handler);
        const ids = Array.from({ length: 20 }, (_, i) => `t${i}`);
        for (const id of ids) await q.a.send('task', id, { key: id });
        await waitFor('all 20 jobs', () => seen.length >= 20);
        await new Promise((r) => setTimeout(r, 300));
        assert.deepEqual([...seen].sort(), [...ids].sort());
      } finally {
        await q.close();
      }
    });

    test('no more handlers run at once than the concurrency', async () => {
      const q = await backend.open();
      try {
        let now = 0;
        let max = 0;
        let done = 0;
        const release = gate();
        await q.a.work('task', { concurrency: 2 }, async () => {
          now++;
          max = Math.max(max, now);
          await release.promise;
          now--;
          done++;
        });
        for (let i = 0; i < 5; i++) await q.a.send('task', `c${i}`);
        await waitFor('two running', () => now === 2);
        await new Promise((r) => setTimeout(r, 300));
        assert.equal(now, 2);
        release.open();
        await waitFor('all done', () => done === 5);
        assert.equal(max, 2);
      } finally {
        await q.close();
      }
    });

    test('a key has one active job and at most one waiting; later sends are dropped', async () => {
      const q = await backend.open();
      try {
        const calls: string[] = [];
        const first = gate();
        await q.a.work('run', { concurrency: 4 }, async (job) => {
          calls.push(job.id);
          if (calls.length === 1) await first.promise;
        });
        await q.a.send('run', 'first', { key: 'r1' });
        await waitFor('the first job', () => calls.length === 1);
        await q.a.send('run', 'second', { key: 'r1' });
        await q.a.send('run', 'third', { key: 'r1' });
        await new Promise((r) => setTimeout(r, 500));
        assert.deepEqual(calls, ['first'], 'nothing of the key runs beside the active job');
        first.open();
        await waitFor('the waiting job', () => calls.length === 2);
        await new Promise((r) => setTimeout(r, 500));
        assert.deepEqual(calls, ['first', 'second']);
      } finally {
        await q.close();
      }
    });

    test('startAfter holds a job back until its time', async () => {
      const q = await backend.open();
      try {
        let at = 0;
        await q.a.work('task', { concurrency: 1 }, async () => {
          at = Date.now();
        });
        const startAfter = Date.now() + 1500;
        await q.a.send('task', 'later', { startAfter });
        await waitFor('the delayed job', () => at > 0, 15_000);
        assert.ok(at >= startAfter - 50, `delivered ${startAfter - at} ms early`);
      } finally {
        await q.close();
      }
    });

    test('a handler that throws hands its job back: delivered again, one more delivery', async () => {
      const q = await backend.open();
      try {
        const deliveries: number[] = [];
        await q.a.work('task', { concurrency: 1 }, async (job) => {
          deliveries.push(job.deliveries);
          if (job.deliveries === 1) throw new Error('not now');
        });
        await q.a.send('task', 'again', { key: 'again' });
        await waitFor('the second delivery', () => deliveries.length === 2, 15_000);
        assert.deepEqual(deliveries, [1, 2]);
      } finally {
        await q.close();
      }
    });

    test('stop(grace) waits, then aborts a running handler; its job is handed back to another worker', async () => {
      const q = await backend.open();
      try {
        const seen: Array<{ by: string; deliveries: number }> = [];
        let aborted: unknown;
        await q.a.work('task', { concurrency: 1 }, async (job) => {
          seen.push({ by: 'a', deliveries: job.deliveries });
          await new Promise<void>((resolve) =>
            job.signal.addEventListener(
              'abort',
              () => {
                aborted = job.signal.reason;
                resolve();
              },
              { once: true },
            ),
          );
        });
        await q.a.send('task', 'held', { key: 'held' });
        await waitFor('the job on a', () => seen.length === 1);
        await q.a.stop(300);
        assert.equal(aborted, 'shutdown');
        if (q.b === q.a) return; // in one process there is nobody else to hand it to
        await q.b.work('task', { concurrency: 1 }, async (job) => {
          seen.push({ by: 'b', deliveries: job.deliveries });
        });
        await waitFor('the job on b', () => seen.length === 2, 15_000);
        assert.deepEqual(seen[1], { by: 'b', deliveries: 2 });
      } finally {
        await q.close();
      }
    });

    if (backend.name === 'pg-boss') {
      test('a job whose process was killed (SIGKILL) is delivered again after the lease', async () => {
        const q = await backend.open();
        const dir = tempDir();
        try {
          // A separate process takes the job, says so, and is killed while it holds it.
          const script = path.join(dir, 'hold.ts');
          const driverUrl = pathToFileURL(path.resolve('src/cluster/queue-pgboss.ts')).href;
          fs.writeFileSync(
            script,
            `import { PgBossQueueDriver } from ${JSON.stringify(driverUrl)};
const d = await PgBossQueueDriver.open({ url: process.argv[2], leaseSeconds: ${LEASE}, monitorSeconds: 1 });
await d.work('task', { concurrency: 1 }, async (job) => {
  process.stdout.write('holding ' + job.id + ' ' + job.deliveries + '\\n');
  await new Promise(() => {});
});
`,
          );
          const child = spawn(process.execPath, [script, q.url!], { stdio: ['ignore', 'pipe', 'inherit'] });
          let out = '';
          child.stdout.on('data', (c: Buffer) => {
            out += c.toString();
          });
          const exited = new Promise((r) => child.once('exit', r));
          try {
            await q.a.send('task', 'orphan', { key: 'orphan' });
            await waitFor('the child to hold the job', () => out.includes('holding orphan 1'), 30_000);
            child.kill('SIGKILL');
            await exited;
            const seen: number[] = [];
            await q.b.work('task', { concurrency: 1 }, async (job) => {
              seen.push(job.deliveries);
            });
            // Lease (10 s) + monitor (1 s) + polling: bounded well above.
            await waitFor('redelivery after the lease', () => seen.length === 1, 45_000);
            assert.deepEqual(seen, [2]);
          } finally {
            child.kill('SIGKILL');
          }
        } finally {
          await q.close();
          fs.rmSync(dir, { recursive: true, force: true });
        }
      });
    }
  });
}
