/**
 * Warm spares (src/runners/claude/warm-pool.ts): a one-turn task, submit → result, three ways,
 * interleaved so drift hits all alike:
 *
 *   warm:   a server with SWITCHYARD_WARM=1; each task claims the spare the previous one left parked
 *           (the bench waits until it is parked: tasks that arrive spaced out, the pool's case)
 *   cold:   a server with SWITCHYARD_WARM=0; each task starts Claude Code
 *   sdk:    the Agent SDK's query() called directly, no server, no sandbox
 *
 * Then what a parked spare holds: the RSS of its processes (bwrap, the forwarder, Claude Code).
 * Target: warm p50 ≤ 1/3 of cold. Knobs: --n=10 tasks per path, --warmup=1.
 *
 *   node_modules/.bin/node bench/warm-start.ts
 */
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { query } from '@anthropic-ai/claude-agent-sdk';
import { startScriptedModel } from '../src/model/scripted-model.ts';
import { claudeEnv, header, intArg, row, startBenchServer, summarize, tempDir } from './lib.ts';

const N = intArg('n', 10);
const WARMUP = intArg('warmup', 1);

/** RSS in MiB of every live process started for the server whose data dir is `owner`. */
function ownedRssMib(owner: string): number {
  let kib = 0;
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (!fs.readFileSync(`/proc/${pid}/environ`, 'utf8').includes(`\0SWITCHYARD_TASK_OWNER=${owner}\0`)) continue;
      kib += Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      // exited while we looked
    }
  }
  return kib / 1024;
}

header('warm spares vs cold starts, one-turn task');
const model = await startScriptedModel(() => ({ text: 'Done.' }));
const warm = await startBenchServer(model.url, { SWITCHYARD_WARM: '1' });
const cold = await startBenchServer(model.url, { SWITCHYARD_WARM: '0' });
const sdkDir = tempDir();

async function viaServer(url: string): Promise<{ ms: number; warm: boolean }> {
  const start = performance.now();
  const res = await fetch(`${url}/v1/tasks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: 'bench', allowed_tools: ['Read'] }),
  });
  const { id } = (await res.json()) as { id: string };
  const task = (await (await fetch(`${url}/v1/tasks/${id}?wait=60`)).json()) as {
    status: string;
    result: { admission: { warm: boolean } };
  };
  if (task.status !== 'completed') throw new Error(`task ${id} ended ${task.status}`);
  return { ms: performance.now() - start, warm: task.result.admission.warm };
}

async function viaSdk(i: number): Promise<number> {
  const configDir = path.join(sdkDir, `c${i}`);
  fs.mkdirSync(configDir);
  const start = performance.now();
  for await (const m of query({
    prompt: 'bench',
    options: {
      cwd: warm.workspace,
      tools: ['Read'],
      settingSources: [],
      env: claudeEnv(configDir, model.url),
      systemPrompt: { type: 'preset', preset: 'claude_code' },
    },
  })) {
    if (m.type === 'result') return performance.now() - start;
  }
  throw new Error('no result');
}

const samples = { warm: [] as number[], cold: [] as number[], sdk: [] as number[] };
let missed = 0;
try {
  await viaServer(warm.url); // the first task parks the first spare
  await warm.server.warm.settled();
  for (let i = 0; i < N + WARMUP; i++) {
    const order = [0, 1, 2].map((k) => (k + i) % 3);
    for (const k of order) {
      if (k === 0) {
        const r = await viaServer(warm.url);
        if (!r.warm) missed++;
        if (i >= WARMUP) samples.warm.push(r.ms);
        await warm.server.warm.settled();
      } else if (k === 1) {
        const r = await viaServer(cold.url);
        if (i >= WARMUP) samples.cold.push(r.ms);
      } else {
        const ms = await viaSdk(i);
        if (i >= WARMUP) samples.sdk.push(ms);
      }
    }
  }
  const parkedRss = ownedRssMib(warm.dataDir);
  const w = summarize(samples.warm);
  const c = summarize(samples.cold);
  const s = summarize(samples.sdk);
  console.log(row('warm (claims a parked spare)', w));
  console.log(row('cold (starts Claude Code)', c));
  console.log(row('Agent SDK query() directly', s));
  console.log(`  warm / cold p50: ${(w.p50 / c.p50).toFixed(2)} (target ≤ 0.33); tasks that found no spare: ${missed}`);
  console.log(`  one parked spare holds ${parkedRss.toFixed(0)} MiB RSS (bwrap, forwarder and Claude Code)`);
} finally {
  await warm.close();
  await cold.close();
}

// The pool full: a task of each of four shapes starts cold and leaves a spare of its shape parked.
const full = await startBenchServer(model.url, { SWITCHYARD_WARM: '4' });
try {
  const shapes = [['Read'], ['Read', 'Grep'], ['Glob'], ['Read', 'Glob', 'Grep']];
  for (const tools of shapes) {
    const res = await fetch(`${full.url}/v1/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'fill', allowed_tools: tools }),
    });
    const { id } = (await res.json()) as { id: string };
    await fetch(`${full.url}/v1/tasks/${id}?wait=60`);
    await full.server.warm.settled();
  }
  const server = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) / 1024;
  console.log(
    `  pool full (${full.server.warm.parked} spares): spares ${ownedRssMib(full.dataDir).toFixed(0)} MiB RSS, ` +
      `this process (server, model, bench) ${server.toFixed(0)} MiB`,
  );
} finally {
  await full.close();
  await model.close();
}
