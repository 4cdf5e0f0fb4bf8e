/**
 * A burst of one-turn tasks on this machine: all submitted at once, each measured submit → result.
 * Three admissions side by side, on one scripted model, one after another in the same process:
 *
 *   default:  SWITCHYARD_CONCURRENCY=8, the start gate (one start per core) and warm spares at their defaults
 *   gate:     the same without warm spares (SWITCHYARD_WARM=0)
 *   gate of 1: the same with one start at a time
 *   no gate:  SWITCHYARD_CONCURRENCY=8, starts unlimited, no spares (the admission before this change)
 *   N=2:      SWITCHYARD_CONCURRENCY=2, no spares (the throughput a burst must not fall below)
 *
 * Knobs: --burst=16 tasks per burst, --rounds=2 bursts per admission (interleaved).
 *
 *   node_modules/.bin/node bench/burst.ts
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { startScriptedModel } from '../src/model/scripted-model.ts';
import { header, intArg, row, startBenchServer, summarize } from './lib.ts';

const BURST = intArg('burst', 16);
const ROUNDS = intArg('rounds', 2);

const ADMISSIONS: Record<string, Record<string, string>> = {
  default: { SWITCHYARD_CONCURRENCY: '8' },
  gate: { SWITCHYARD_CONCURRENCY: '8', SWITCHYARD_WARM: '0' },
  'gate of 1': { SWITCHYARD_CONCURRENCY: '8', SWITCHYARD_WARM: '0', SWITCHYARD_CONCURRENT_STARTS: '1' },
  'no gate': { SWITCHYARD_CONCURRENCY: '8', SWITCHYARD_CONCURRENT_STARTS: '256', SWITCHYARD_WARM: '0' },
  'N=2': { SWITCHYARD_CONCURRENCY: '2', SWITCHYARD_WARM: '0' },
};

async function burst(url: string): Promise<{ latencies: number[]; seconds: number }> {
  const start = performance.now();
  const latencies = await Promise.all(
    Array.from({ length: BURST }, async (_, i) => {
      const t0 = performance.now();
      const res = await fetch(`${url}/v1/tasks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: `burst ${i}` }),
      });
      const { id } = (await res.json()) as { id: string };
      for (;;) {
        const task = (await (await fetch(`${url}/v1/tasks/${id}?wait=60`)).json()) as { status: string };
        if (task.status === 'completed') return performance.now() - t0;
        if (task.status === 'failed') throw new Error(`task ${id} failed`);
      }
    }),
  );
  return { latencies, seconds: (performance.now() - start) / 1000 };
}

header(`burst of ${BURST} one-turn tasks on ${os.availableParallelism()} cores`);
const model = await startScriptedModel(() => ({ text: 'Done.' }));
const results: Record<string, { latencies: number[]; seconds: number[] }> = {};
try {
  for (let round = 0; round < ROUNDS; round++) {
    const names = Object.keys(ADMISSIONS);
    if (round % 2 === 1) names.reverse();
    for (const name of names) {
      const server = await startBenchServer(model.url, { ...ADMISSIONS[name], SWITCHYARD_QUEUE_LIMIT: '1000' });
      try {
        const r = await burst(server.url);
        results[name] ??= { latencies: [], seconds: [] };
        results[name].latencies.push(...r.latencies);
        results[name].seconds.push(r.seconds);
      } finally {
        await server.close();
      }
    }
  }
} finally {
  await model.close();
}
for (const [name, r] of Object.entries(results)) {
  const total = r.seconds.reduce((a, b) => a + b, 0);
  console.log(row(name, summarize(r.latencies), ['p50', 'p90', 'max']));
  console.log(`  ${''.padEnd(38)} throughput ${((BURST * r.seconds.length) / total).toFixed(2)} tasks/s`);
}
