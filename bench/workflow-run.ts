/**
 * A small workflow end to end, the shape the article's pipelines repeat: two http steps on a loopback
 * service in parallel, then a transform over both. Measured through the engine's API in-process:
 *
 *   one at a time:  startRun → waitRun returns the completed run (p50; target < 10 ms)
 *   100 at once:    100 runs started together → all completed (runs/s)
 *
 * Knobs: --runs=50 sequential runs after --warmup=5, --burst=100.
 *
 *   node_modules/.bin/node bench/workflow-run.ts
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { header, intArg, row, startBenchServer, summarize } from './lib.ts';

const RUNS = intArg('runs', 50);
const WARMUP = intArg('warmup', 5);
const BURST = intArg('burst', 100);

const service = createServer((req, res) => {
  req.resume();
  res.writeHead(200, { 'content-type': 'application/json' }).end(`{"path":${JSON.stringify(req.url)}}`);
});
await new Promise<void>((resolve) => service.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${(service.address() as AddressInfo).port}`;

const DEFINITION = `name: three-steps
inputs: {topic: {type: string}}
steps:
  a: {worker: http, url: "${url}/a?q={{ inputs.topic }}"}
  b: {worker: http, url: "${url}/b?q={{ inputs.topic }}"}
  digest:
    worker: transform
    depends_on: [a, b]
    template: "{{ a.response }} + {{ b.response }}"
`;

header('three-step workflow (two http steps on loopback, a transform)');
const bench = await startBenchServer('http://127.0.0.1:9', { SWITCHYARD_HTTP_ALLOW: '127.0.0.1' });
try {
  const wf = bench.server.workflows;
  await wf.registerWorkflow(DEFINITION);
  const once = async (i: number) => {
    const { run } = await wf.startRun('three-steps', { topic: `t${i}` });
    const done = await wf.waitRun(run.id, 60_000);
    if (done.status !== 'completed') throw new Error(`run ${run.id} ended ${done.status}`);
  };
  const latencies: number[] = [];
  for (let i = 0; i < RUNS + WARMUP; i++) {
    const start = performance.now();
    await once(i);
    if (i >= WARMUP) latencies.push(performance.now() - start);
  }
  console.log(row('one run at a time, start → completed', summarize(latencies), ['p50', 'p90', 'p99']));
  const start = performance.now();
  await Promise.all(Array.from({ length: BURST }, (_, i) => once(i)));
  const seconds = (performance.now() - start) / 1000;
  console.log(
    `  ${BURST} runs at once: all completed in ${(seconds * 1000).toFixed(0)} ms, ${(BURST / seconds).toFixed(0)} runs/s`,
  );
} finally {
  await bench.close();
  service.closeAllConnections();
  service.close();
}
