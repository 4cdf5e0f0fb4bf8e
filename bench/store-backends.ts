/**
 * The two Store backends side by side on the same work: a task's life in the store, createTask →
 * claimNextTask → finishTask, each write durable before it resolves (SQLite: WAL, synchronous=FULL;
 * PostgreSQL: its defaults, fsync and synchronous_commit on).
 *
 *   one at a time:  p50 of each call and of the whole cycle, one cycle after another
 *   concurrently:   --clients cycles in flight at once for --seconds (at most --cycles): cycles/s
 *
 * PostgreSQL is a private cluster started for the run (the tests' fixture, with durability kept), on a unix
 * socket on this machine; BENCH_DATABASE_URL points it at another server instead (a fresh database is made
 * there and dropped after).
 *
 *   node_modules/.bin/node bench/store-backends.ts [--n=300] [--clients=8] [--seconds=5] [--cycles=20000]
 */
import { performance } from 'node:perf_hooks';
import { openStore } from '../src/store/open-store.ts';
import type { NewTask, Store } from '../src/store/store.ts';
import { createDatabase, type PostgresServer, startPostgres } from '../test/fixtures/postgres.ts';
import { header, intArg, ms, row, summarize, tempDir } from './lib.ts';

const N = intArg('n', 300);
const WARMUP = intArg('warmup', 20);
const CLIENTS = intArg('clients', 8);
const SECONDS = intArg('seconds', 5);
const CYCLES = intArg('cycles', 20_000);

let seq = 0;
const newTask = (): NewTask => ({
  id: `bench-${++seq}`,
  request: { prompt: 'Summarise the README', allowed_tools: ['Read', 'Glob'], timeout: 600_000 },
  policy: { tools: ['Read', 'Glob'], rules: [] },
  retry_safe: false,
  idempotency_key: null,
  idempotency_hash: null,
  metadata: { source: 'bench' },
  webhook_url: null,
});

const finish = {
  status: 'completed' as const,
  response: 'The README describes a task server.',
  result: { num_turns: 2, total_cost_usd: 0.001 },
  error: null,
};

/** One task's life; returns each call's latency. */
async function cycle(store: Store): Promise<{ create: number; claim: number; finish: number; total: number }> {
  const t0 = performance.now();
  await store.createTask(newTask());
  const t1 = performance.now();
  const task = await store.claimNextTask(new Date().toISOString());
  const t2 = performance.now();
  if (!task) throw new Error('nothing to claim');
  await store.finishTask(task.id, finish, new Date().toISOString());
  const t3 = performance.now();
  return { create: t1 - t0, claim: t2 - t1, finish: t3 - t2, total: t3 - t0 };
}

interface Result {
  name: string;
  create: number[];
  claim: number[];
  finish: number[];
  total: number[];
  perSecond: number;
  concurrentCycles: number;
}

async function measure(name: string, store: Store): Promise<Result> {
  const r: Result = { name, create: [], claim: [], finish: [], total: [], perSecond: 0, concurrentCycles: 0 };
  for (let i = 0; i < N + WARMUP; i++) {
    const c = await cycle(store);
    if (i < WARMUP) continue;
    r.create.push(c.create);
    r.claim.push(c.claim);
    r.finish.push(c.finish);
    r.total.push(c.total);
  }
  const deadline = performance.now() + SECONDS * 1000;
  let started = 0;
  const start = performance.now();
  // A claim may take another client's task: every client claims once per task it created, so all end.
  const client = async () => {
    while (performance.now() < deadline && started < CYCLES) {
      started++;
      await cycle(store);
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, client));
  r.concurrentCycles = started;
  r.perSecond = started / ((performance.now() - start) / 1000);
  return r;
}

header('Store backends: createTask → claimNextTask → finishTask, SQLite and PostgreSQL');
let server: PostgresServer | undefined;
const given = process.env.BENCH_DATABASE_URL;
const results: Result[] = [];
try {
  const sqlite = await openStore({ dataDir: tempDir(), databaseUrl: undefined });
  try {
    results.push(await measure('sqlite', sqlite.store));
  } finally {
    await sqlite.store.close();
  }
  server = given ? undefined : await startPostgres({ durable: true });
  const db = await createDatabase(given ?? server!.adminUrl);
  try {
    const postgres = await openStore({ dataDir: tempDir(), databaseUrl: db.url });
    try {
      results.push(
        await measure(`postgres (${given ? 'BENCH_DATABASE_URL' : 'private cluster, unix socket'})`, postgres.store),
      );
    } finally {
      await postgres.store.close();
    }
  } finally {
    await db.drop();
  }
} finally {
  await server?.stop();
}

console.log(`one at a time (${N} cycles after ${WARMUP} warm-up):`);
for (const r of results) {
  console.log(`  ${r.name}`);
  console.log(row('  createTask', summarize(r.create), ['p50', 'p90', 'p99']));
  console.log(row('  claimNextTask', summarize(r.claim), ['p50', 'p90', 'p99']));
  console.log(row('  finishTask', summarize(r.finish), ['p50', 'p90', 'p99']));
  console.log(row('  whole cycle', summarize(r.total), ['p50', 'p90', 'p99']));
}
console.log(`${CLIENTS} clients at once for up to ${SECONDS} s:`);
for (const r of results) {
  console.log(`  ${r.name.padEnd(44)} ${r.perSecond.toFixed(0)} cycles/s (${r.concurrentCycles} cycles)`);
}
const [a, b] = results;
if (a && b) {
  console.log(
    `postgres / sqlite: cycle p50 ${ms(summarize(b.total).p50)} vs ${ms(summarize(a.total).p50)}, ` +
      `throughput ${(b.perSecond / a.perSecond).toFixed(2)}×`,
  );
}
