/**
 * How long the server's event loop is held while adversarial workflows run (issue 6: "no input can
 * stall the server"). For each case a run is started in-process, and until it ends the script
 * measures the event loop's delay (perf_hooks.monitorEventLoopDelay, 10 ms resolution) and times
 * GET /health requests sent one after another. Target: event-loop delay p99 < 100 ms.
 *
 *   idle         nothing running: the machine's own noise floor (other processes, timers)
 *   benign       for_each of --items cheap transform items (the control)
 *   slow render  for_each of --items items whose template loops 50,000 times (~0.35 s each)
 *   big fan-in   --items × 2 items of 200 KB each: the fan-in passes SWITCHYARD_MAX_STEP_OUTPUT_BYTES
 *   deep JSON    an http step answered with JSON nested 100,000 levels (RangeError while recording it)
 *   huge range   one `(1..5000000)` range: a single LiquidJS step, bounded only by its memoryLimit
 *
 *   node_modules/.bin/node bench/event-loop-delay.ts [--items=40]
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { header, intArg, ms, startBenchServer, summarize } from './lib.ts';

const ITEMS = Math.max(1, intArg('items', 40));
const TARGET_MS = 100;

const deep = '['.repeat(100_000) + ']'.repeat(100_000);
const api = createServer((req, res) => {
  if (req.url === '/deep') res.writeHead(200, { 'content-type': 'application/json' }).end(deep);
  else res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
});
await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
const apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;

const WORKFLOWS = [
  `
name: each
inputs: { list: { type: array }, n: { type: integer }, blob: { type: string } }
steps:
  each:
    worker: transform
    for_each: "{{ inputs.list }}"
    template: "{% for i in (1..inputs.n) %}{% assign x = i %}{% endfor %}{{ inputs.blob }}{{ item }}"
`,
  `
name: deep
steps:
  deep: { worker: http, url: "${apiUrl}/deep" }
`,
  `
name: range
inputs: { n: { type: integer } }
steps:
  range: { worker: transform, template: "{% for i in (1..inputs.n) %}{% endfor %}done" }
`,
];

header('event-loop delay while adversarial workflows run');
console.log(`items:   ${ITEMS} per for_each; target: p99 < ${TARGET_MS} ms\n`);
const bench = await startBenchServer('http://127.0.0.1:9', { SWITCHYARD_HTTP_ALLOW: '127.0.0.1' });
const wf = bench.server.workflows;
for (const text of WORKFLOWS) await wf.registerWorkflow(text);

interface Figures {
  status: string;
  kind: string;
  wall: number;
  delay: { p50: number; p99: number; max: number };
  health: number[];
  /** /health requests that failed (connection reset). */
  refused: number;
}

/** Measures while `work` runs: the loop's delay, and /health answered back to back. */
async function measure(work: () => Promise<{ status: string; kind: string }>): Promise<Figures> {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  const started = performance.now();
  let over = false;
  const result = work().finally(() => {
    over = true;
  });
  const health: number[] = [];
  let refused = 0;
  while (!over) {
    const t0 = performance.now();
    try {
      const res = await fetch(`${bench.url}/health`);
      await res.arrayBuffer();
      health.push(performance.now() - t0);
    } catch {
      refused++; // a loop held long enough resets the connection
    }
  }
  const { status, kind } = await result;
  histogram.disable();
  const toMs = (ns: number) => ns / 1e6;
  return {
    status,
    kind,
    wall: performance.now() - started,
    delay: { p50: toMs(histogram.percentile(50)), p99: toMs(histogram.percentile(99)), max: toMs(histogram.max) },
    health,
    refused,
  };
}

async function run(workflow: string, inputs: Record<string, unknown>) {
  const { run } = await wf.startRun(workflow, inputs);
  const done = await wf.waitRun(run.id, 600_000);
  const failed = done.steps.find((s) => s.status === 'failed');
  return { status: done.status, kind: failed?.error?.kind ?? '' };
}

const list = Array.from({ length: ITEMS }, (_, i) => i);
const CASES: Array<{ label: string; work: () => Promise<{ status: string; kind: string }> }> = [
  {
    label: 'idle (3 s)',
    work: async () => {
      await new Promise((r) => setTimeout(r, 3000));
      return { status: '-', kind: '' };
    },
  },
  { label: `benign: ${ITEMS} cheap items`, work: () => run('each', { list, n: 1, blob: '' }) },
  { label: `slow render: ${ITEMS} × 0.35 s`, work: () => run('each', { list, n: 50_000, blob: '' }) },
  {
    label: `big fan-in: ${ITEMS * 2} × 200 KB`,
    work: () => run('each', { list: [...list, ...list], n: 1, blob: 'x'.repeat(200 * 1024) }),
  },
  { label: 'deep JSON (RangeError)', work: () => run('deep', {}) },
  { label: 'huge range (1..5000000)', work: () => run('range', { n: 5_000_000 }) },
];

const results: Array<{ label: string; f: Figures }> = [];
for (const c of CASES) {
  const f = await measure(c.work);
  results.push({ label: c.label, f });
  const h = summarize(f.health);
  console.log(
    `  ${c.label.padEnd(32)} ${`${f.status}${f.kind ? ` (${f.kind})` : ''}`.padEnd(34)} ${ms(f.wall).padStart(9)}` +
      `   loop delay p50 ${ms(f.delay.p50).padEnd(9)} p99 ${ms(f.delay.p99).padEnd(9)} max ${ms(f.delay.max).padEnd(9)}` +
      `   /health n=${String(h.n).padEnd(5)} p99 ${ms(h.p99)}${f.refused ? `, ${f.refused} failed` : ''}`,
  );
}
const worst = results.filter((r) => !r.label.startsWith('huge range') && !r.label.startsWith('idle'));
const p99 = Math.max(...worst.map((r) => r.f.delay.p99));
console.log(
  `\nworst loop-delay p99 of the workflow cases above the idle line, huge range aside: ${ms(p99)} — target < ${TARGET_MS} ms: ${p99 < TARGET_MS ? 'met' : 'missed'}`,
);
await bench.close();
api.close();
