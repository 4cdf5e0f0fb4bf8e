/**
 * Step-to-step dispatch latency of the workflow engine on the embedded (SQLite) store: how long after
 * a step ends does the step that depends on it begin. Chains of http steps call a loopback service
 * started here, which timestamps every exchange itself, so the main figure is taken outside the engine:
 *
 *   external: the service has written step A's whole response ('finish')
 *             → step B's request arrives at the service ('request': headers parsed)
 *
 * It covers the runner reading A's response, the transition that completes A and starts B being made
 * durable (one fsync), and B's runner connecting. For reference it is split at the engine's own step
 * timestamps (wall clock, millisecond resolution, so each part is ±1 ms):
 *
 *   response written → A.finished_at        (runner reads the response, the engine takes it in)
 *   A.finished_at    → B.started_at         (0 by construction: both are stamped by the same transition)
 *   B.started_at     → B's request arrives  (commit + fsync, runner started, connection made)
 *
 * Runs go one at a time, so the figure is the latency of an idle engine. Knobs: --runs=5 chains of
 * --steps=51 http steps (250 gaps), after one discarded warm-up chain.
 *
 *   node_modules/.bin/node bench/workflow-dispatch.ts --runs=5 --steps=51
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { header, intArg, row, startBenchServer, summarize } from './lib.ts';

const RUNS = intArg('runs', 5);
const STEPS = Math.max(2, intArg('steps', 51));
const TARGET_P50_MS = 5;

/** Wall-clock milliseconds with sub-millisecond precision, comparable with the engine's ISO stamps. */
const wallNow = () => performance.timeOrigin + performance.now();

interface Exchange {
  path: string;
  arrivedAt: number;
  writtenAt?: number;
}

async function startRecorder() {
  const exchanges: Exchange[] = [];
  const server = createServer((req, res) => {
    const exchange: Exchange = { path: req.url ?? '', arrivedAt: wallNow() };
    exchanges.push(exchange);
    req.resume();
    res.on('finish', () => {
      exchange.writtenAt = wallNow();
    });
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    exchanges,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function chainDefinition(name: string, url: string, length: number): string {
  const steps: Record<string, unknown> = {};
  for (let i = 0; i < length; i++) {
    steps[`s${i}`] = {
      worker: 'http',
      url: `${url}/s${i}`,
      ...(i === 0 ? {} : { depends_on: [`s${i - 1}`] }),
    };
  }
  return JSON.stringify({ name, steps });
}

async function main(): Promise<void> {
  header('workflow step-to-step dispatch (embedded SQLite store, http steps on loopback)');
  console.log(`runs:    ${RUNS} chains of ${STEPS} http steps (${RUNS * (STEPS - 1)} gaps) + 1 warm-up chain`);
  const service = await startRecorder();
  // No claude step runs here, so the model URL is never called.
  const bench = await startBenchServer('http://127.0.0.1:9', { SWITCHYARD_HTTP_ALLOW: '127.0.0.1' });
  const wf = bench.server.workflows;
  const external: number[] = [];
  const toFinished: number[] = [];
  const finishedToStarted: number[] = [];
  const startedToArrival: number[] = [];
  const runTotals: number[] = [];
  try {
    await wf.registerWorkflow(chainDefinition('dispatch-chain', service.url, STEPS));
    for (let r = -1; r < RUNS; r++) {
      service.exchanges.length = 0;
      const t0 = performance.now();
      const { run } = await wf.startRun('dispatch-chain', {});
      const done = await wf.waitRun(run.id, 120_000);
      const elapsed = performance.now() - t0;
      if (done.status !== 'completed')
        throw new Error(`run ${run.id} ended ${done.status}: ${JSON.stringify(done.error)}`);
      if (service.exchanges.length !== STEPS)
        throw new Error(`expected ${STEPS} requests, got ${service.exchanges.length}`);
      if (r < 0) continue; // warm-up: JIT, prepared statements, first connections
      runTotals.push(elapsed);
      const byName = new Map(done.steps.map((s) => [s.name, s]));
      for (let i = 1; i < STEPS; i++) {
        const a = service.exchanges[i - 1]!;
        const b = service.exchanges[i]!;
        if (a.path !== `/s${i - 1}` || b.path !== `/s${i}`) throw new Error(`requests out of order at step ${i}`);
        external.push(b.arrivedAt - a.writtenAt!);
        const aFinished = Date.parse(byName.get(`s${i - 1}`)!.finished_at!);
        const bStarted = Date.parse(byName.get(`s${i}`)!.started_at!);
        toFinished.push(aFinished - a.writtenAt!);
        finishedToStarted.push(bStarted - aFinished);
        startedToArrival.push(b.arrivedAt - bStarted);
      }
    }
  } finally {
    await bench.close();
    await service.close();
  }
  const keys = ['p50', 'p90', 'p99', 'max'] as const;
  const main = summarize(external);
  console.log('');
  console.log('external (measured by the service):');
  console.log(row('response A written → request B arrives', main, [...keys]));
  console.log('split at the engine step timestamps (each ±1 ms):');
  console.log(row('response written → A.finished_at', summarize(toFinished), [...keys]));
  console.log(row('A.finished_at → B.started_at', summarize(finishedToStarted), [...keys]));
  console.log(row('B.started_at → request B arrives', summarize(startedToArrival), [...keys]));
  const chain = summarize(runTotals);
  console.log(row(`chain of ${STEPS} steps, start → terminal`, chain, ['p50', 'max']));
  console.log(`  ${(STEPS / (chain.p50 / 1000)).toFixed(0)} steps/s along one chain`);
  console.log('');
  const verdict = main.p50 < TARGET_P50_MS ? 'met' : 'MISSED';
  console.log(`target:  p50 < ${TARGET_P50_MS} ms — ${verdict} (p50 ${main.p50.toFixed(2)} ms)`);
}

await main();
