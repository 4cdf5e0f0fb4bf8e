/**
 * Runs every benchmark in turn, each in its own process, and exits non-zero if one fails to run
 * (a missed target is a figure to read, not a failure). `npm run bench`, or:
 *
 *   node_modules/.bin/node bench/run-all.ts
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const SCRIPTS = [
  'task-overhead.ts',
  'notify-latency.ts',
  'submit-throughput.ts',
  'workflow-dispatch.ts',
  'workflow-1000.ts',
  'event-loop-delay.ts',
  'sandbox-start.ts',
  'warm-start.ts',
  'burst.ts',
  'workflow-run.ts',
  'schema-heap.ts',
  'webhook-latency.ts',
  'store-backends.ts',
  'cluster.ts',
];

let failed = 0;
for (const script of SCRIPTS) {
  const result = spawnSync(process.execPath, [path.join(import.meta.dirname, script), ...process.argv.slice(2)], {
    stdio: 'inherit',
    timeout: 10 * 60_000,
  });
  if (result.status !== 0) {
    failed++;
    console.error(`bench/${script} failed: ${result.error?.message ?? `exit ${result.status ?? result.signal}`}`);
  }
  console.log('');
}
process.exitCode = failed > 0 ? 1 : 0;
