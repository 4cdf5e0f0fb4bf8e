/**
 * Switchyard as a cluster: real `switchyard serve --role api|worker` processes on one PostgreSQL database
 * (pg-boss queue, LISTEN/NOTIFY), against the embedded SQLite server where a comparison means something.
 * Tasks are real Claude Code against the scripted model (one-turn text answer).
 *
 *   dispatch       task created → claimed by a worker (its `started_at`), --n tasks one after another,
 *                  on PostgreSQL (1 api + 1 worker process) and on SQLite (one in-process server), 2 slots
 *                  each so a free one waits while the previous task's Claude Code exits
 *   submissions/s  POST /v1/tasks from --clients concurrent clients for --seconds, to 1 and to 2 api nodes
 *                  with no worker (tasks stay queued); SQLite with one slot held by a task that never ends
 *   tasks/s        --per-worker tasks per worker submitted at once, 1 api + 1, 2 and 4 worker processes
 *                  (SWITCHYARD_CONCURRENCY=1 each), first POST → last terminal, at most --size-seconds
 *   runs/s         --runs-per-worker two-step transform runs per worker started at once, 1 api + 1, 2 and 4
 *                  workers: the run queue, adoption and the store, without Claude Code
 *
 * PostgreSQL is a private cluster started for the run (test/fixtures/postgres.ts, durability kept), one
 * fresh database per block. Every process and temp dir is removed at the end, on failure and on Ctrl-C.
 *
 *   node_modules/.bin/node bench/cluster.ts [--n=40] [--clients=8] [--seconds=5] [--per-worker=10] [--runs-per-worker=50] [--size-seconds=60] [--only=dispatch,submissions,tasks,runs]
 */
import { performance } from 'node:perf_hooks';
import { SwitchyardClient, type Task } from '../src/client/client.ts';
import { WorkflowClient } from '../src/client/workflow-client.ts';
import { type Script, startScriptedModel } from '../src/model/scripted-model.ts';
import { type Cluster, startCluster } from '../test/fixtures/cluster.ts';
import { createDatabase, type PostgresServer, startPostgres, type TestDatabase } from '../test/fixtures/postgres.ts';
import { cleanupTempDirs, header, intArg, loadLine, ms, row, sleep, startBenchServer, summarize } from './lib.ts';

const N = intArg('n', 40);
const CLIENTS = intArg('clients', 8);
const SECONDS = intArg('seconds', 5);
const PER_WORKER = intArg('per-worker', 10);
const SIZE_SECONDS = intArg('size-seconds', 60);
const WORKER_SIZES = [1, 2, 4];
const RUNS_PER_WORKER = intArg('runs-per-worker', 50);
/** `--only=dispatch,runs`: just those blocks (dispatch, submissions, tasks, runs). */
const ONLY = process.argv
  .find((a) => a.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',');
const block = (name: string) => !ONLY || ONLY.includes(name);
const RUN_WORKFLOW = `
name: bench
steps:
  first: { worker: transform, template: "one" }
  second: { worker: transform, depends_on: [first], template: "{{ first.response }} two" }
`;

/** One-turn answers; `hold` tasks never hear back (they keep SQLite's one slot busy). */
const script: Script = (req) => (req.prompt === 'hold' ? { hang: true } : { text: 'ok' });

// Everything started is stopped here, in reverse, whatever happens.
const cleanups: Array<() => Promise<unknown>> = [];
async function cleanup(): Promise<void> {
  for (const fn of cleanups.splice(0).reverse()) await fn().catch((err: unknown) => console.error(err));
  cleanupTempDirs();
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void cleanup().finally(() => process.exit(130));
  });
}

const terminal = (t: Task) => t.status === 'completed' || t.status === 'failed';

/** Long-polls until terminal, at most `ms`. */
async function settle(client: SwitchyardClient, id: string, ms: number): Promise<Task> {
  const deadline = Date.now() + ms;
  for (;;) {
    const left = Math.ceil((deadline - Date.now()) / 1000);
    const t = await client.get(id, Math.max(1, Math.min(30, left)));
    if (terminal(t) || Date.now() >= deadline) return t;
  }
}

/** created → started_at (the claim), one task at a time so a slot is always free. */
async function dispatch(client: SwitchyardClient): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < N + 2; i++) {
    const t = await settle(client, (await client.submit({ prompt: `dispatch ${i}` })).id, 60_000);
    if (t.status !== 'completed') throw new Error(`dispatch task ended ${t.status}: ${JSON.stringify(t.error)}`);
    // The first two warm the worker (first Claude Code start, pg-boss's first fetch).
    if (i >= 2) out.push(Date.parse(t.started_at!) - Date.parse(t.created_at));
  }
  return out;
}

/** POST /v1/tasks from CLIENTS clients for SECONDS, spread over the given nodes: accepted per second. */
async function submissions(clients: SwitchyardClient[]): Promise<{ perSecond: number; n: number; latency: number[] }> {
  const deadline = performance.now() + SECONDS * 1000;
  const latency: number[] = [];
  const start = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, c) => {
      const client = clients[c % clients.length]!;
      while (performance.now() < deadline) {
        const t0 = performance.now();
        await client.submit({ prompt: 'queued' });
        latency.push(performance.now() - t0);
      }
    }),
  );
  return { perSecond: latency.length / ((performance.now() - start) / 1000), n: latency.length, latency };
}

async function newCluster(
  db: TestDatabase,
  modelUrl: string,
  roles: Array<'api' | 'worker'>,
  concurrency = 1,
): Promise<Cluster> {
  const cluster = await startCluster({ databaseUrl: db.url, modelUrl, roles, concurrency });
  cleanups.push(() => cluster.close());
  return cluster;
}

header('Cluster: api and worker processes on PostgreSQL (pg-boss), and the embedded SQLite server');
const say = (line: string) => console.log(line);
try {
  const model = await startScriptedModel(script);
  cleanups.push(() => model.close());
  const pgServer: PostgresServer = await startPostgres({ durable: true });
  cleanups.push(() => pgServer.stop());
  const freshDb = async () => {
    const db = await createDatabase(pgServer.adminUrl);
    cleanups.push(() => db.drop());
    return db;
  };

  // 1. Dispatch latency.
  if (block('dispatch')) {
    // Two slots: the previous task's Claude Code may still be exiting (it holds its slot until gone),
    // and that wait is not dispatch.
    const cluster = await newCluster(await freshDb(), model.url, ['api', 'worker'], 2);
    const onPg = await dispatch(cluster.apis[0]!.client);
    const loadPg = loadLine();
    await cleanups.pop()!();
    const sqlite = await startBenchServer(model.url, { SWITCHYARD_CONCURRENCY: '2' });
    cleanups.push(() => sqlite.close());
    const onSqlite = await dispatch(new SwitchyardClient({ baseUrl: sqlite.url }));
    const loadSqlite = loadLine();
    await cleanups.pop()!();
    const a = summarize(onPg);
    const b = summarize(onSqlite);
    say(`dispatch: task created → claimed (started_at − created_at), ${N} one after another after 2 warm-up, 2 slots:`);
    say(`${row('postgres, 1 api + 1 worker process (pg-boss)', a)}   [${loadPg}]`);
    say(`${row('sqlite, one server (embedded queue)', b)}   [${loadSqlite}]`);
    say(
      `  postgres / sqlite p50: ${(a.p50 / b.p50).toFixed(1)}× — target p50 < 50 ms on postgres: ${a.p50 < 50 ? 'met' : 'missed'}`,
    );
  }

  // 2. Submissions per second, nothing dispatched.
  if (block('submissions')) {
    const cluster = await newCluster(await freshDb(), model.url, ['api']);
    const one = await submissions([cluster.apis[0]!.client]);
    const loadOne = loadLine();
    await cluster.add('api');
    const two = await submissions(cluster.apis.map((n) => n.client));
    const loadTwo = loadLine();
    await cleanups.pop()!();
    const sqlite = await startBenchServer(model.url, { SWITCHYARD_CONCURRENCY: '1' });
    cleanups.push(() => sqlite.close());
    const sqliteClient = new SwitchyardClient({ baseUrl: sqlite.url });
    const hold = await sqliteClient.submit({ prompt: 'hold', timeout: 600_000 });
    // The one slot is taken before the clock starts, so every submission after it stays queued.
    for (let i = 0; i < 600 && (await sqliteClient.get(hold.id)).status !== 'running'; i++) await sleep(100);
    const lite = await submissions([sqliteClient]);
    const loadLite = loadLine();
    await sqliteClient.cancel(hold.id);
    await cleanups.pop()!();
    say(`submissions: POST /v1/tasks, ${CLIENTS} clients for ${SECONDS} s, nothing dispatched:`);
    const fmt = (label: string, r: typeof one, load: string) =>
      `  ${label.padEnd(44)} ${r.perSecond.toFixed(0).padStart(5)}/s  (${r.n} tasks; per POST p50 ${ms(summarize(r.latency).p50)}, p90 ${ms(summarize(r.latency).p90)})   [${load}]`;
    say(fmt('postgres, 1 api node, no worker', one, loadOne));
    say(fmt('postgres, 2 api nodes, no worker', two, loadTwo));
    say(fmt('sqlite, one server, its 1 slot held', lite, loadLite));
    say('  (SQLite cannot run with no task slot — SWITCHYARD_CONCURRENCY ≥ 1 — so one task that never ends holds it)');
  }

  // 3. Tasks per second by number of workers.
  if (block('tasks'))
    say(
      `tasks/s: ${PER_WORKER} one-turn tasks per worker submitted at once, 1 api + k workers (SWITCHYARD_CONCURRENCY=1 each), first POST → last terminal, at most ${SIZE_SECONDS} s:`,
    );
  for (const k of block('tasks') ? WORKER_SIZES : []) {
    const cluster = await newCluster(await freshDb(), model.url, [
      'api',
      ...Array.from({ length: k }, () => 'worker' as const),
    ]);
    const api = cluster.apis[0]!.client;
    // One task per worker first: every worker's first Claude Code start is not the figure.
    await Promise.all(
      Array.from({ length: k }, async (_, i) => settle(api, (await api.submit({ prompt: `warm ${i}` })).id, 60_000)),
    );
    const total = PER_WORKER * k;
    const start = performance.now();
    const ids = await Promise.all(Array.from({ length: total }, (_, i) => api.submit({ prompt: `task ${i}` })));
    const left = () => SIZE_SECONDS * 1000 - (performance.now() - start);
    const ended = await Promise.all(ids.map((t) => settle(api, t.id, Math.max(1000, left()))));
    const elapsed = (performance.now() - start) / 1000;
    const done = ended.filter((t) => t.status === 'completed').length;
    const failed = ended.filter((t) => t.status === 'failed').length;
    say(
      `  ${`${k} worker${k > 1 ? 's' : ''}`.padEnd(10)} ${(done / elapsed).toFixed(2).padStart(6)} tasks/s  (${done}/${total} completed${failed ? `, ${failed} failed` : ''} in ${elapsed.toFixed(1)} s)   [${loadLine()}]`,
    );
    await cleanups.pop()!();
  }

  // 4. Workflow runs per second by number of workers: two transform steps, no Claude Code, so the
  // figure is the run queue, adoption and the store, not the model.
  if (block('runs'))
    say(
      `workflow runs/s: ${RUNS_PER_WORKER} two-step transform runs per worker started at once, 1 api + k workers, first start → last terminal, at most ${SIZE_SECONDS} s:`,
    );
  for (const k of block('runs') ? WORKER_SIZES : []) {
    const cluster = await newCluster(await freshDb(), model.url, [
      'api',
      ...Array.from({ length: k }, () => 'worker' as const),
    ]);
    const api = new WorkflowClient({ baseUrl: cluster.apis[0]!.process.url });
    await api.registerWorkflow(RUN_WORKFLOW);
    // One run per worker first, so every worker has adopted once.
    await Promise.all(Array.from({ length: k }, async () => api.waitRun((await api.startRun('bench', {})).id, 60_000)));
    const total = RUNS_PER_WORKER * k;
    const start = performance.now();
    const runs = await Promise.all(Array.from({ length: total }, () => api.startRun('bench', {})));
    const left = () => SIZE_SECONDS * 1000 - (performance.now() - start);
    const ended = await Promise.all(runs.map((r) => api.waitRun(r.id, Math.max(1000, left())).catch(() => undefined)));
    const elapsed = (performance.now() - start) / 1000;
    const done = ended.filter((r) => r?.status === 'completed').length;
    say(
      `  ${`${k} worker${k > 1 ? 's' : ''}`.padEnd(10)} ${(done / elapsed).toFixed(1).padStart(6)} runs/s  (${done}/${total} completed in ${elapsed.toFixed(1)} s)   [${loadLine()}]`,
    );
    await cleanups.pop()!();
  }
  if (block('runs')) {
    // The same on the embedded server, one process, for the ratio.
    const sqlite = await startBenchServer(model.url);
    cleanups.push(() => sqlite.close());
    const api = new WorkflowClient({ baseUrl: sqlite.url });
    await api.registerWorkflow(RUN_WORKFLOW);
    await api.waitRun((await api.startRun('bench', {})).id, 60_000);
    const start = performance.now();
    const runs = await Promise.all(Array.from({ length: RUNS_PER_WORKER }, () => api.startRun('bench', {})));
    const ended = await Promise.all(runs.map((r) => api.waitRun(r.id, SIZE_SECONDS * 1000).catch(() => undefined)));
    const elapsed = (performance.now() - start) / 1000;
    const done = ended.filter((r) => r?.status === 'completed').length;
    say(
      `  ${'sqlite'.padEnd(10)} ${(done / elapsed).toFixed(1).padStart(6)} runs/s  (${done}/${RUNS_PER_WORKER} completed in ${elapsed.toFixed(1)} s, one server)   [${loadLine()}]`,
    );
    await cleanups.pop()!();
  }
} finally {
  await cleanup();
}
