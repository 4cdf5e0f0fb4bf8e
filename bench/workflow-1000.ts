/**
 * The engine on 1,000-step DAGs, in two kinds of step:
 *
 *   http       every step dispatches: a durable transition starts it, its runner POSTs to a loopback
 *              service this script starts, and the transition that records its end also starts what it
 *              unblocks. This is the figure to quote for "1,000 steps".
 *   transform  a no-op that finishes inside the transition that starts it, so a whole run settles in
 *              one durable write: the engine's bookkeeping alone, not dispatch.
 *
 * Each step reads its first dependency's output (`{{ dep.response }}` in the http body or the transform
 * template), as real steps read their inputs. Three shapes:
 *
 *   chain    s0 → s1 → … → s999
 *   fan      one root → 998 parallel steps → one join that depends on all of them
 *   layered  10 layers × 100 steps, each step depending on 3 steps of the layer above
 *
 * Reference points: startRun() is called (the run and its 1,000 step rows are inserted) → waitRun()
 * returns the terminal run. For http runs the service counts its requests (1,000 per run, or the run is
 * an error) and the http pool is the server default (16 at once). Registering each workflow (validation)
 * is timed apart: it is not part of a run. Each shape runs --warmup=1 time unmeasured, then --n=5 times;
 * --kinds=http,transform picks the kinds.
 *
 *   node_modules/.bin/node bench/workflow-1000.ts --n=5
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { header, intArg, ms, row, startBenchServer, summarize } from './lib.ts';

const N = Math.max(1, intArg('n', 5));
const WARMUP = intArg('warmup', 1);
const KINDS = (process.argv.find((a) => a.startsWith('--kinds='))?.slice(8) ?? 'http,transform').split(',');
const TARGET_MS = 1000;

type Step = Record<string, unknown>;
type MakeStep = (name: string, deps: string[]) => Step;

const transformStep: MakeStep = (_name, deps) => ({
  worker: 'transform',
  template: deps.length > 0 ? `{{ ${deps[0]}.response }}` : 'ok',
  ...(deps.length > 0 ? { depends_on: deps } : {}),
});

const httpStep =
  (serviceUrl: string): MakeStep =>
  (name, deps) => ({
    worker: 'http',
    method: 'POST',
    url: `${serviceUrl}/${name}`,
    body: { from: deps.length > 0 ? `{{ ${deps[0]}.response }}` : 'start' },
    ...(deps.length > 0 ? { depends_on: deps } : {}),
  });

function chain(n: number, step: MakeStep): Record<string, Step> {
  const steps: Record<string, Step> = {};
  for (let i = 0; i < n; i++) steps[`s${i}`] = step(`s${i}`, i === 0 ? [] : [`s${i - 1}`]);
  return steps;
}

function fan(n: number, step: MakeStep): Record<string, Step> {
  const steps: Record<string, Step> = { root: step('root', []) };
  const middle = Array.from({ length: n - 2 }, (_, i) => `m${i}`);
  for (const name of middle) steps[name] = step(name, ['root']);
  steps.join = step('join', middle);
  return steps;
}

function layered(layers: number, width: number, step: MakeStep): Record<string, Step> {
  const steps: Record<string, Step> = {};
  for (let l = 0; l < layers; l++) {
    for (let i = 0; i < width; i++) {
      const deps = l === 0 ? [] : [i, i + 1, i + 2].map((j) => `l${l - 1}_${j % width}`);
      steps[`l${l}_${i}`] = step(`l${l}_${i}`, deps);
    }
  }
  return steps;
}

const SHAPES = [
  { name: 'chain', label: 'chain of 1000', build: (s: MakeStep) => chain(1000, s) },
  { name: 'fan', label: 'fan 1 → 998 → 1', build: (s: MakeStep) => fan(1000, s) },
  { name: 'layered', label: 'layered 10 × 100 (3 deps each)', build: (s: MakeStep) => layered(10, 100, s) },
];

/** A loopback service that answers every POST at once with a small JSON body, and counts them. */
async function startService() {
  let requests = 0;
  const server = createServer((req, res) => {
    requests++;
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    take: () => {
      const n = requests;
      requests = 0;
      return n;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

interface Result {
  kind: string;
  label: string;
  count: number;
  client: number[];
  engine: number[];
}

async function main(): Promise<void> {
  header('workflow engine on 1,000-step DAGs: http steps that dispatch, and no-op transform steps');
  console.log(
    `runs:    ${N} per shape and kind after ${WARMUP} warm-up, one at a time; kinds ${KINDS.join(', ')}; target < ${TARGET_MS} ms per run`,
  );
  const service = await startService();
  const bench = await startBenchServer('http://127.0.0.1:9', { SWITCHYARD_HTTP_ALLOW: '127.0.0.1' });
  const wf = bench.server.workflows;
  const results: Result[] = [];
  try {
    for (const kind of KINDS) {
      const make = kind === 'http' ? httpStep(service.url) : kind === 'transform' ? transformStep : undefined;
      if (!make) throw new Error(`--kinds: unknown kind ${kind} (http, transform)`);
      for (const shape of SHAPES) {
        const steps = shape.build(make);
        const count = Object.keys(steps).length;
        const name = `bench-${kind}-${shape.name}-1000`;
        const t = performance.now();
        await wf.registerWorkflow(JSON.stringify({ name, steps }));
        const registerMs = performance.now() - t;
        const result: Result = { kind, label: shape.label, count, client: [], engine: [] };
        for (let i = -WARMUP; i < N; i++) {
          service.take();
          const t0 = performance.now();
          const { run } = await wf.startRun(name, {});
          const done = await wf.waitRun(run.id, 300_000);
          const elapsed = performance.now() - t0;
          if (done.status !== 'completed')
            throw new Error(`${name} ended ${done.status}: ${JSON.stringify(done.error)}`);
          const completed = done.steps.filter((s) => s.status === 'completed').length;
          if (completed !== count) throw new Error(`${name}: ${completed} of ${count} steps completed`);
          const dispatched = service.take();
          if (dispatched !== (kind === 'http' ? count : 0)) throw new Error(`${name}: ${dispatched} requests arrived`);
          if (i < 0) continue;
          result.client.push(elapsed);
          result.engine.push(Date.parse(done.finished_at!) - Date.parse(done.started_at!));
        }
        results.push(result);
        console.log(`  ${kind} ${shape.label}: ${count} steps, registering (validation) took ${ms(registerMs)}`);
      }
    }
  } finally {
    await bench.close();
    await service.close();
  }
  for (const kind of KINDS) {
    const mine = results.filter((r) => r.kind === kind);
    console.log('');
    console.log(
      kind === 'http'
        ? 'http steps, each dispatched to the loopback service (a durable transition at every step end):'
        : 'transform steps, no dispatch (a run settles in one durable transition):',
    );
    console.log('  startRun() called → terminal run returned by waitRun():');
    for (const r of mine) {
      const s = summarize(r.client);
      console.log(`${row(r.label, s, ['p50', 'max'])} ${(r.count / (s.p50 / 1000)).toFixed(0)} steps/s`);
    }
    if (mine.every((r) => r.engine.every((v) => v === 0))) {
      console.log('  engine record: run.started_at = run.finished_at in every run (one transition)');
    } else {
      console.log('  engine record, run.started_at → run.finished_at:');
      for (const r of mine) console.log(row(r.label, summarize(r.engine), ['p50', 'max']));
    }
    const worst = Math.max(...mine.map((r) => summarize(r.client).p50));
    console.log(
      `  target < ${TARGET_MS} ms per 1,000-step run (${kind}): ${worst < TARGET_MS ? 'met' : 'MISSED'} (slowest shape p50 ${ms(worst)})`,
    );
  }
}

await main();
