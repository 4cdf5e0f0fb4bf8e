/**
 * Accepted submissions per second: POST /v1/tasks answered 201, each acknowledged only after its
 * SQLite COMMIT (WAL, synchronous=FULL; group commit lets one fsync cover a burst). Tasks do not run:
 * the server has SWITCHYARD_CONCURRENCY=1 and the scripted model never answers, so the one running task
 * hangs and everything else queues — this measures acceptance, not execution.
 *
 * The server runs as its own process (`node src/cli/main.ts serve`), as in production, so this load
 * generator (node:http, keep-alive, --connections in flight) does not share its event loop. Bounded by
 * --seconds and --requests, whichever comes first. Afterwards the server gets SIGTERM and the script
 * checks that the database holds exactly the tasks that were acknowledged.
 *
 *   node_modules/.bin/node bench/submit-throughput.ts --connections=64 --seconds=10 --requests=20000
 *   add --profile=1 to write a V8 CPU profile of the server (path printed) for `--cpu-prof` analysis.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { DatabaseSync } from 'node:sqlite';
import { startScriptedModel } from '../src/model/scripted-model.ts';
import { header, intArg, ms, row, sleep, summarize, tempDir } from './lib.ts';

const CONNECTIONS = intArg('connections', 64);
const SECONDS = intArg('seconds', 10);
const MAX_REQUESTS = intArg('requests', 20_000);
const WARMUP_REQUESTS = intArg('warmup', 500);
const PROFILE = intArg('profile', 0) === 1;
const TARGET = 2000;

const repo = path.resolve(import.meta.dirname, '..');

/** Commit latency of this disk with the server's settings: the floor for one unbatched submission. */
function measureCommit(dir: string, count = 200): number[] {
  const db = new DatabaseSync(path.join(dir, 'fsync-probe.db'));
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('PRAGMA synchronous = FULL');
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
  const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    db.exec('BEGIN IMMEDIATE');
    insert.run('x'.repeat(600));
    db.exec('COMMIT');
    times.push(performance.now() - t0);
  }
  db.close();
  return times;
}

function startServer(
  env: Record<string, string>,
  profileDir: string | undefined,
): Promise<{
  child: ChildProcess;
  url: string;
  stderr: () => string;
}> {
  const args = [...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []), 'src/cli/main.ts', 'serve'];
  const child = spawn(process.execPath, args, { cwd: repo, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start within 20 s:\n${stderr}`)), 20_000);
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      stderr += chunk;
      const url = /listening on (http:\/\/\S+)/.exec(stderr)?.[1];
      if (url) {
        clearTimeout(timer);
        resolve({ child, url, stderr: () => stderr });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${stderr}`));
    });
  });
}

/** Processes whose parent is `pid` (Claude Code started by the server). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(name));
    } catch {
      // Exited while we looked.
    }
  }
  return out;
}

/** CPU time (user + system, ms) a process has used so far; Linux clock ticks are 10 ms. */
function cpuMsOf(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

interface LoadResult {
  latencies: number[];
  statuses: Map<string, number>;
  elapsed: number;
  accepted: number;
}

async function load(url: string, total: number, seconds: number, connections: number): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const target = new URL('/v1/tasks', url);
  const latencies: number[] = [];
  const statuses = new Map<string, number>();
  let issued = 0;
  let accepted = 0;
  const count = (key: string) => statuses.set(key, (statuses.get(key) ?? 0) + 1);
  const post = (body: string) =>
    new Promise<number>((resolve, reject) => {
      const req = http.request(
        target,
        {
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          res.resume();
          res.once('end', () => resolve(res.statusCode ?? 0));
          res.once('error', reject);
        },
      );
      req.setTimeout(30_000, () => req.destroy(new Error('timeout after 30 s')));
      req.once('error', reject);
      req.end(body);
    });
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const worker = async () => {
    while (issued < total && performance.now() < deadline) {
      const n = issued++;
      const body = JSON.stringify({ prompt: `submit throughput ${n}`, allowed_tools: ['Read', 'Glob'] });
      const t0 = performance.now();
      try {
        const status = await post(body);
        latencies.push(performance.now() - t0);
        count(String(status));
        if (status === 201) accepted++;
      } catch (err) {
        count(`error: ${(err as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: connections }, worker));
  const elapsed = performance.now() - started;
  agent.destroy();
  return { latencies, statuses, elapsed, accepted };
}

async function main(): Promise<void> {
  header('submit throughput: durable POST /v1/tasks acceptances per second');
  console.log(
    `clients: ${CONNECTIONS} connections in flight (keep-alive), ≤ ${SECONDS} s or ≤ ${MAX_REQUESTS} requests, after ${WARMUP_REQUESTS} warm-up`,
  );
  const root = tempDir();
  const dataDir = path.join(root, 'data');
  const workspace = path.join(root, 'workspace');
  fs.mkdirSync(workspace);
  const profileDir = PROFILE ? fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-profile-')) : undefined;

  const commits = summarize(measureCommit(root));
  console.log(
    `disk:    one SQLite COMMIT (WAL, synchronous=FULL) p50 ${ms(commits.p50)}, p90 ${ms(commits.p90)}` +
      ` → ≤ ${Math.round(1000 / commits.p50)}/s without group commit`,
  );

  const model = await startScriptedModel(() => ({ hang: true }));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: root,
    SWITCHYARD_HOST: '127.0.0.1',
    SWITCHYARD_PORT: '0',
    SWITCHYARD_DATA_DIR: dataDir,
    SWITCHYARD_WORKSPACE_ROOTS: workspace,
    SWITCHYARD_CONCURRENCY: '1',
    SWITCHYARD_QUEUE_LIMIT: '10000000',
    SWITCHYARD_LOG_LEVEL: 'warn',
    ANTHROPIC_BASE_URL: model.url,
    ANTHROPIC_API_KEY: 'sk-ant-bench-key-not-secret',
  };
  const server = await startServer(env, profileDir);
  let exitCode: number | null = null;
  const exited = new Promise<void>((resolve) =>
    server.child.once('exit', (code) => {
      exitCode = code;
      resolve();
    }),
  );
  try {
    // The first task occupies the only slot; wait until its Claude Code has started and is waiting on
    // the model, so its start-up CPU is not in the measurement.
    const first = await fetch(`${server.url}/v1/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'occupy the only slot' }),
    });
    if (first.status !== 201) throw new Error(`first submission → ${first.status} ${await first.text()}`);
    for (let i = 0; i < 300 && model.requests.length === 0; i++) await sleep(50);
    if (model.requests.length === 0) throw new Error('the occupying task never reached the model');
    await sleep(500);

    const warm = await load(server.url, WARMUP_REQUESTS, 10, CONNECTIONS);
    const serverCpu0 = cpuMsOf(server.child.pid!);
    const clientCpu0 = process.cpuUsage();
    const run = await load(server.url, MAX_REQUESTS, SECONDS, CONNECTIONS);
    const serverCpu = cpuMsOf(server.child.pid!) - serverCpu0;
    const clientCpu = process.cpuUsage(clientCpu0);
    const lat = summarize(run.latencies);
    const rate = (run.accepted / run.elapsed) * 1000;
    const errors = [...run.statuses].filter(([k]) => k !== '201');
    console.log(`\n  ${run.accepted} accepted (201) in ${(run.elapsed / 1000).toFixed(2)} s`);
    console.log(
      `  throughput: ${Math.round(rate)} accepted/s  [target ≥ ${TARGET}/s: ${rate >= TARGET ? 'met' : 'MISSED'}]`,
    );
    console.log(row('latency per POST', lat, ['p50', 'p90', 'p99', 'max']));
    console.log(
      `  CPU busy during the run: server ${Math.round((100 * serverCpu) / run.elapsed)} % of a core` +
        ` (${(serverCpu / Math.max(1, run.accepted)).toFixed(3)} ms per accepted task),` +
        ` this load generator ${Math.round((clientCpu.user + clientCpu.system) / 10 / run.elapsed)} %`,
    );
    console.log(
      `  errors / other statuses: ${errors.length === 0 ? 'none' : errors.map(([k, v]) => `${k} ×${v}`).join(', ')}`,
    );

    // Stop: SIGTERM first (no new claims), then let the hanging model call fail so the drain is quick.
    server.child.kill('SIGTERM');
    for (let i = 0; i < 100 && !server.stderr().includes('draining'); i++) await sleep(20);
    await sleep(200);
    await model.close();
    await Promise.race([exited, sleep(20_000)]);
    if (exitCode === null) {
      console.log('  server did not stop within 20 s of SIGTERM: killing it');
      for (const pid of childrenOf(server.child.pid!)) {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          // Gone already.
        }
      }
      server.child.kill('SIGKILL');
      await exited;
    }
    const db = new DatabaseSync(path.join(dataDir, 'switchyard.db'), { readOnly: true });
    const stored = Number((db.prepare('SELECT count(*) AS n FROM tasks').get() as { n: number }).n);
    db.close();
    const acknowledged = 1 + warm.accepted + run.accepted;
    console.log(
      `  durability check after shutdown: ${stored} tasks in the database, ${acknowledged} acknowledged` +
        ` → ${stored === acknowledged ? 'all present' : 'MISMATCH'}; server exit code ${exitCode}`,
    );
    if (profileDir) {
      for (const f of fs.readdirSync(profileDir))
        console.log(`  CPU profile of the server: ${path.join(profileDir, f)}`);
    }
  } finally {
    if (exitCode === null && server.child.exitCode === null) server.child.kill('SIGKILL');
    await model.close().catch(() => undefined);
  }
}

await main();
