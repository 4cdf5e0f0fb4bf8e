/**
 * What the OS sandbox costs a task, measured two ways, interleaved so drift hits both alike:
 *
 *   start:  spawn → exit of a no-op standing in for Claude Code, under the task's real bwrap command
 *           line (namespaces, mounts, the model forwarder started and awaited) vs spawned directly.
 *           This is the sandbox's own start cost (target ≤ 30 ms).
 *   task:   a one-turn task, POST /v1/tasks → the terminal task, on two servers side by side, one with
 *           SWITCHYARD_SANDBOX=required and one with off: what a client sees.
 *
 * Knobs: --n=30 start samples per path, --tasks=10 tasks per server, --warmup=2.
 *
 *   node_modules/.bin/node bench/sandbox-start.ts
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { startScriptedModel } from '../src/model/scripted-model.ts';
import { prepareSandboxHost, probeSandbox, sandboxArgv } from '../src/runners/claude/sandbox.ts';
import { header, intArg, row, startBenchServer, summarize, tempDir } from './lib.ts';

const N = intArg('n', 30);
const TASKS = intArg('tasks', 10);
const WARMUP = intArg('warmup', 2);

/** CPU time (user + system, ms) of this process's waited-for children so far, from /proc. */
function childrenCpuMs(): number {
  const stat = fs.readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // cutime and cstime are fields 16 and 17 of stat(5), in clock ticks (100 per second on Linux).
  return (Number(fields[13]) + Number(fields[14])) * 10;
}

function timed(command: string, args: string[]): Promise<number> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(performance.now() - start) : reject(new Error(`exit ${code}`))));
  });
}

async function startCost(): Promise<void> {
  const root = tempDir();
  const workspace = path.join(root, 'workspace');
  const configDir = path.join(root, 'data', 'claude', 'task');
  fs.mkdirSync(workspace, { recursive: true });
  fs.mkdirSync(configDir, { recursive: true });
  const socket = path.join(root, 'model.sock');
  // The forwarder only needs the socket to exist; nothing connects during this measurement.
  fs.writeFileSync(socket, '');
  const host = prepareSandboxHost(path.join(root, 'data'), socket);
  const argv = sandboxArgv(
    { workspace, configDir, executables: ['/usr/bin/true'], writable: true },
    host,
    '/usr/bin/true',
    [],
  );
  const sandboxed: number[] = [];
  const direct: number[] = [];
  const cpu = { sandboxed: 0, direct: 0 };
  for (let i = 0; i < N + WARMUP; i++) {
    const pair = i % 2 === 0 ? [true, false] : [false, true];
    for (const inSandbox of pair) {
      const before = childrenCpuMs();
      const t = inSandbox ? await timed('bwrap', argv) : await timed('/usr/bin/true', []);
      if (i < WARMUP) continue;
      (inSandbox ? sandboxed : direct).push(t);
      cpu[inSandbox ? 'sandboxed' : 'direct'] += childrenCpuMs() - before;
    }
  }
  const s = summarize(sandboxed);
  const d = summarize(direct);
  console.log('start of the process that stands in for Claude Code:');
  console.log(row('in the sandbox (bwrap + forwarder)', s));
  console.log(row('spawned directly', d));
  console.log(`  sandbox start cost, p50 difference: ${(s.p50 - d.p50).toFixed(1)} ms (target ≤ 30 ms)`);
  // CPU time does not grow with the machine's load the way wall time does.
  console.log(
    `  CPU per start (user + system, 10 ms ticks): sandboxed ${(cpu.sandboxed / N).toFixed(1)} ms, direct ${(cpu.direct / N).toFixed(1)} ms`,
  );
}

async function taskCost(): Promise<void> {
  const model = await startScriptedModel(() => ({ text: 'Done.' }));
  const servers = {
    // Cold starts both: a warm spare would hide the start this measures.
    sandboxed: await startBenchServer(model.url, { SWITCHYARD_SANDBOX: 'required', SWITCHYARD_WARM: '0' }),
    unconfined: await startBenchServer(model.url, { SWITCHYARD_SANDBOX: 'off', SWITCHYARD_WARM: '0' }),
  };
  const samples: Record<keyof typeof servers, number[]> = { sandboxed: [], unconfined: [] };
  const once = async (name: keyof typeof servers): Promise<number> => {
    const start = performance.now();
    const base = servers[name].url;
    const res = await fetch(`${base}/v1/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'bench', allowed_tools: ['Read'] }),
    });
    const { id } = (await res.json()) as { id: string };
    const task = (await (await fetch(`${base}/v1/tasks/${id}?wait=60`)).json()) as { status: string };
    if (task.status !== 'completed') throw new Error(`task ${id} ended ${task.status}`);
    return performance.now() - start;
  };
  try {
    for (let i = 0; i < TASKS + WARMUP; i++) {
      const order: Array<keyof typeof servers> =
        i % 2 === 0 ? ['sandboxed', 'unconfined'] : ['unconfined', 'sandboxed'];
      for (const name of order) {
        const t = await once(name);
        if (i >= WARMUP) samples[name].push(t);
      }
    }
  } finally {
    await servers.sandboxed.close();
    await servers.unconfined.close();
    await model.close();
  }
  const s = summarize(samples.sandboxed);
  const u = summarize(samples.unconfined);
  console.log('one-turn task, submit → result:');
  console.log(row('SWITCHYARD_SANDBOX=required', s));
  console.log(row('SWITCHYARD_SANDBOX=off', u));
  console.log(`  ratio of p50s: ${(s.p50 / u.p50).toFixed(3)} (${(s.p50 - u.p50).toFixed(1)} ms)`);
}

header('sandbox start cost');
const status = await probeSandbox('required');
if (!status.active) {
  console.log(`no sandbox here: ${status.reason}`);
  process.exit(1);
}
await startCost();
if (TASKS > 0) await taskCost();
