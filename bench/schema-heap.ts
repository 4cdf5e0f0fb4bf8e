/**
 * The server's heap after many tasks with distinct output schemas: every submission compiles its
 * schema (so a bad pattern is a 400 at once), and nothing of it may stay behind. 10,000 tasks are
 * submitted to a server that runs none of them (one slot, held by a task whose model never answers),
 * and the heap is measured after a full GC, before and after. Target: flat within 10 %.
 *
 * Knobs: --tasks=10000.
 *
 *   node_modules/.bin/node bench/schema-heap.ts
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { startScriptedModel } from '../src/model/scripted-model.ts';
import { header, intArg, startBenchServer } from './lib.ts';

const TASKS = intArg('tasks', 10_000);
const WARM_UP = 1000;
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapMib(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

header(`server heap after ${TASKS} tasks with distinct output schemas`);
const model = await startScriptedModel(() => ({ hang: true }));
const bench = await startBenchServer(model.url, {
  SWITCHYARD_CONCURRENCY: '1',
  SWITCHYARD_WARM: '0',
  SWITCHYARD_QUEUE_LIMIT: String(TASKS + 10),
});
const submit = (body: unknown) =>
  fetch(`${bench.url}/v1/tasks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  }).then((r) => {
    if (r.status !== 201) throw new Error(`submit answered ${r.status}`);
    return r.json();
  });
try {
  await submit({ prompt: 'hold the slot', timeout: 3_600_000 });
  // A first batch warms every code path and fills the bounded validator cache (256), so the baseline
  // is neither the cost of loading modules nor of the cache reaching its bound.
  const schemaOf = (i: number) => ({
    $id: `https://example.test/s${i}`,
    type: 'object',
    required: [`field${i}`],
    properties: { [`field${i}`]: { type: 'string', pattern: `^v${i}-[a-z]+$` } },
  });
  for (let i = 0; i < WARM_UP; i++) await submit({ prompt: `warm ${i}`, output_schema: schemaOf(i) });
  const before = heapMib();
  for (let i = WARM_UP; i < TASKS; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, TASKS - i) }, (_, k) =>
        submit({ prompt: `t ${i + k}`, output_schema: schemaOf(i + k) }),
      ),
    );
  }
  const after = heapMib();
  console.log(
    `  heap after GC: ${before.toFixed(1)} MiB before, ${after.toFixed(1)} MiB after ${TASKS - 200} more tasks`,
  );
  console.log(`  growth ${(((after - before) / before) * 100).toFixed(1)} % (target: within 10 %)`);
} finally {
  await bench.close();
  await model.close();
}
