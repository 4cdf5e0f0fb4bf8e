/**
 * Inbound webhook latency: a real GitHub pull_request.opened payload (@octokit/webhooks-examples, ~21 KB),
 * signed with X-Hub-Signature-256, posted to POST /v1/hooks/{name} over loopback HTTP. Figures:
 *
 *   delivery → run started:   POST sent → the 202 read. The 202 is sent only after the run and its
 *                             delivery record are committed (one fsync) and the engine has taken the run.
 *   delivery → run completed: POST sent → waitRun returns (a one-step transform workflow).
 *   replay answered:          the same delivery id again → its 200 (a lookup, nothing written).
 *   bad signature refused:    a wrong X-Hub-Signature-256 → its 401 (an HMAC, nothing read or written).
 *
 * Knobs: --n=200 deliveries after --warmup=20.
 *
 *   node_modules/.bin/node bench/webhook-latency.ts
 */
import { createHmac, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { header, intArg, ms, percentile, startBenchServer } from './lib.ts';

const N = intArg('n', 200);
const WARMUP = intArg('warmup', 20);
const SECRET = 'bench-webhook-secret';

const examples = createRequire(import.meta.url)('@octokit/webhooks-examples') as Array<{
  name: string;
  examples: Array<Record<string, unknown>>;
}>;
const opened = examples.find((e) => e.name === 'pull_request')?.examples.find((e) => e.action === 'opened');
if (!opened) throw new Error('@octokit/webhooks-examples has no pull_request.opened example');
const body = JSON.stringify(opened);
const signature = `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;

const DEFINITION = `name: pr-note
inputs:
  repo: { type: string }
  pr: { type: integer }
steps:
  note: { worker: transform, template: "{{ inputs.repo }}#{{ inputs.pr }}" }
triggers:
  - webhook:
      name: github-pr
      provider: github
      secret: "{{ secrets.BENCH_HOOK_SECRET }}"
      events: [pull_request.opened]
      inputs:
        repo: "{{ body.repository.full_name }}"
        pr: "{{ body.pull_request.number }}"
`;

function line(label: string, values: number[]): string {
  const s = [...values].sort((a, b) => a - b);
  const cells = [`p50 ${ms(percentile(s, 50))}`, `p95 ${ms(percentile(s, 95))}`, `max ${ms(s.at(-1) ?? Number.NaN)}`];
  return `  ${label.padEnd(34)} n=${String(s.length).padEnd(5)} ${cells.map((c) => c.padEnd(16)).join(' ')}`;
}

header(`inbound webhook → run (GitHub pull_request.opened, ${body.length} bytes, signed)`);
const bench = await startBenchServer('http://127.0.0.1:9', { SWITCHYARD_SECRET_BENCH_HOOK_SECRET: SECRET });
try {
  const wf = bench.server.workflows;
  await wf.registerWorkflow(DEFINITION);
  const deliver = (delivery: string, sig = signature) =>
    fetch(`${bench.url}/v1/hooks/github-pr`, {
      method: 'POST',
      body,
      headers: {
        'content-type': 'application/json',
        'x-github-event': 'pull_request',
        'x-github-delivery': delivery,
        'x-hub-signature-256': sig,
      },
    });
  const started: number[] = [];
  const completed: number[] = [];
  const replayed: number[] = [];
  const refused: number[] = [];
  for (let i = 0; i < N + WARMUP; i++) {
    const delivery = randomUUID();
    const t0 = performance.now();
    const res = await deliver(delivery);
    const answer = (await res.json()) as { run_id?: string };
    const t1 = performance.now();
    if (res.status !== 202 || !answer.run_id)
      throw new Error(`delivery answered ${res.status}: ${JSON.stringify(answer)}`);
    const done = await wf.waitRun(answer.run_id, 60_000);
    const t2 = performance.now();
    if (done.status !== 'completed') throw new Error(`run ${done.id} ended ${done.status}`);
    const replay = await deliver(delivery);
    await replay.arrayBuffer();
    const t3 = performance.now();
    if (replay.status !== 200) throw new Error(`replay answered ${replay.status}`);
    const bad = await deliver(randomUUID(), `sha256=${'0'.repeat(64)}`);
    await bad.arrayBuffer();
    const t4 = performance.now();
    if (bad.status !== 401) throw new Error(`bad signature answered ${bad.status}`);
    if (i < WARMUP) continue;
    started.push(t1 - t0);
    completed.push(t2 - t0);
    replayed.push(t3 - t2);
    refused.push(t4 - t3);
  }
  console.log(line('delivery → run started (202)', started));
  console.log(line('delivery → run completed', completed));
  console.log(line('replay answered (200)', replayed));
  console.log(line('bad signature refused (401)', refused));
} finally {
  await bench.close();
}
