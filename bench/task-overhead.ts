/**
 * What a task costs in Switchyard compared with calling the Agent SDK's query() yourself, on the same
 * scripted model and the same task (a one-turn text reply; two turns with one allowed Glob call). Three
 * paths, run interleaved (the order rotates every round, so drift hits all three alike):
 *
 *   sdk     query() with the options run-claude.ts passes (tools, permissionMode, settingSources, env,
 *           system-prompt preset), an allow-all canUseTool, straight to the model: call → `result`.
 *   runner  runClaude() itself, no server: the same SDK call plus Switchyard's layers — the PreToolUse
 *           gate hook and canUseTool gate, the per-task model-proxy token (every model call goes
 *           through the loopback proxy), the process-tree spawn and its cleanup: call → it returns.
 *   server  the whole task through the HTTP API: POST /v1/tasks → GET /v1/tasks/{id}?wait=60 returns
 *           the terminal task (queue, claim, durable writes of every event and the end, long-poll).
 *
 * So runner − sdk is what Switchyard's layers cost, and server − runner is what the server adds on top.
 * Both are printed as paired medians (same round) and as the difference of medians, in wall-clock time
 * and in CPU time. CPU is this process (server, proxy, gate, scripted model) plus every Claude Code
 * process it started and reaped, read after each path's processes are gone; unlike wall time it hardly
 * moves with the machine's load. Knobs: --n=20 rounds per task kind, --warmup=2 discarded rounds.
 *
 *   node_modules/.bin/node bench/task-overhead.ts --n=20
 */
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { type Options, query, type SDKMessage, type SDKResultMessage } from '@anthropic-ai/claude-agent-sdk';
import { ModelProxy } from '../src/model/model-proxy.ts';
import { type Script, startScriptedModel } from '../src/model/scripted-model.ts';
import { compilePolicy } from '../src/runners/claude/policy.ts';
import { runClaude } from '../src/runners/claude/run-claude.ts';
import { emptyAllowList } from '../src/runners/ssrf.ts';
import {
  claudeEnv,
  header,
  intArg,
  ms,
  row,
  type Summary,
  sleep,
  startBenchServer,
  summarize,
  tempDir,
} from './lib.ts';

const N = intArg('n', 20);
const WARMUP = intArg('warmup', 2);
const MODEL_KEY = 'sk-ant-bench-key-not-secret';

interface Kind {
  name: string;
  tools: string[];
  prompt: string;
  expect: string;
}

const KINDS: Kind[] = [
  { name: 'one-turn text reply', tools: [], prompt: 'bench-text', expect: 'Done.' },
  { name: 'two turns, one Glob call', tools: ['Glob'], prompt: 'bench-glob', expect: 'Found the readme.' },
];

// The prompt picks the script; a run id after it keeps every prompt distinct.
const script: Script = (req) => {
  if (req.prompt.startsWith('bench-glob')) {
    return req.turnIndex === 0
      ? { tool_use: { name: 'Glob', input: { pattern: '*.md' } } }
      : { text: 'Found the readme.' };
  }
  return { text: 'Done.' };
};

/** CPU ms of this process and of its reaped children (Claude Code and what it ran). Linux only. */
function cpuMs(): number {
  const stat = fs.readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[13]) + Number(fields[14]); // cutime, cstime: fields 16 and 17 of proc(5)
  const self = process.cpuUsage();
  return (self.user + self.system) / 1000 + ticks * 10; // USER_HZ is 100
}

interface Sample {
  wall: number;
  cpu: number;
}

type Path = 'sdk' | 'runner' | 'server';
const PATHS: Path[] = ['sdk', 'runner', 'server'];

async function main(): Promise<void> {
  header('task overhead: Agent SDK query() vs runClaude() (Switchyard layers) vs the whole server task');
  console.log(`runs:    ${N} measured + ${WARMUP} warm-up rounds per task kind; each round runs all three paths`);
  const model = await startScriptedModel(script);
  const bench = await startBenchServer(model.url, { SWITCHYARD_CONCURRENCY: '2' });
  fs.writeFileSync(path.join(bench.workspace, 'README.md'), '# bench\n');
  // The runner path gets its own model proxy, set up as main.ts sets up the server's.
  const proxy = await ModelProxy.start({ baseUrl: model.url, apiKey: MODEL_KEY });
  const scratch = tempDir('switchyard-bench-direct-');
  let runId = 0;

  const viaSdk = async (kind: Kind): Promise<Sample> => {
    const prompt = `${kind.prompt} ${++runId}`;
    const configDir = path.join(scratch, String(runId));
    const c0 = cpuMs();
    const t0 = performance.now();
    fs.mkdirSync(configDir, { recursive: true, mode: 0o700 });
    const options: Options = {
      cwd: bench.workspace,
      tools: kind.tools,
      allowedTools: [],
      permissionMode: 'default',
      settingSources: [],
      env: claudeEnv(configDir, model.url),
      canUseTool: async (_name, input) => ({ behavior: 'allow', updatedInput: input }),
      systemPrompt: { type: 'preset', preset: 'claude_code' },
    };
    let result: SDKResultMessage | undefined;
    let tResult = 0;
    for await (const message of query({ prompt, options }) as AsyncIterable<SDKMessage>) {
      if (message.type === 'result' && !result) {
        tResult = performance.now();
        result = message;
      }
    }
    if (result?.subtype !== 'success' || result.result !== kind.expect) {
      throw new Error(`sdk query ended without the expected result: ${JSON.stringify(result)}`);
    }
    // The iterator ends once Claude Code has exited.
    return { wall: tResult - t0, cpu: cpuMs() - c0 };
  };

  const viaRunner = async (kind: Kind): Promise<Sample> => {
    const prompt = `${kind.prompt} ${++runId}`;
    let exited: Promise<void> = Promise.resolve();
    const c0 = cpuMs();
    const t0 = performance.now();
    const out = await runClaude(
      {
        prompt,
        policy: compilePolicy(kind.tools),
        cwd: bench.workspace,
        timeout: 120_000,
        idle_timeout: 60_000,
        configDir: path.join(scratch, String(runId)),
      },
      { signal: new AbortController().signal, emit: () => {} },
      {
        passThroughEnv: { ANTHROPIC_BASE_URL: model.url, ANTHROPIC_API_KEY: MODEL_KEY },
        modelAccess: () => proxy.issue(),
        startupTimeout: 30_000,
        owner: scratch,
        projectSettings: false,
        httpAllow: emptyAllowList(),
        onExit: (p) => {
          exited = p;
        },
      },
    );
    const elapsed = performance.now() - t0;
    if (out.response !== kind.expect) throw new Error(`runner returned ${JSON.stringify(out.response)}`);
    await exited;
    return { wall: elapsed, cpu: cpuMs() - c0 };
  };

  const viaServer = async (kind: Kind): Promise<Sample> => {
    const prompt = `${kind.prompt} ${++runId}`;
    const c0 = cpuMs();
    const t0 = performance.now();
    const posted = await fetch(`${bench.url}/v1/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt, allowed_tools: kind.tools, timeout: 120_000 }),
    });
    const created = (await posted.json()) as { id: string };
    if (posted.status !== 201) throw new Error(`POST /v1/tasks → ${posted.status} ${JSON.stringify(created)}`);
    const task = (await (await fetch(`${bench.url}/v1/tasks/${created.id}?wait=60`)).json()) as {
      status: string;
      response: string | null;
      error: unknown;
    };
    const elapsed = performance.now() - t0;
    if (task.status !== 'completed' || task.response !== kind.expect) {
      throw new Error(`server task ended ${task.status}: ${JSON.stringify(task.error ?? task.response)}`);
    }
    // The scheduler holds the task's slot until its processes are gone: wait for that before reading CPU.
    for (
      let i = 0;
      i < 500 && !/^switchyard_tasks_running 0$/m.test(await (await fetch(`${bench.url}/metrics`)).text());
      i++
    ) {
      await sleep(10);
    }
    return { wall: elapsed, cpu: cpuMs() - c0 };
  };

  const run: Record<Path, (kind: Kind) => Promise<Sample>> = { sdk: viaSdk, runner: viaRunner, server: viaServer };
  try {
    for (const kind of KINDS) {
      const samples: Record<Path, Sample[]> = { sdk: [], runner: [], server: [] };
      const requestsBefore = model.requests.length;
      for (let i = 0; i < N + WARMUP; i++) {
        // Rotate the order: sdk→runner→server, runner→server→sdk, server→sdk→runner, …
        const order = PATHS.map((_, j) => PATHS[(i + j) % PATHS.length]!);
        const round: Partial<Record<Path, Sample>> = {};
        for (const p of order) round[p] = await run[p](kind);
        if (i >= WARMUP) for (const p of PATHS) samples[p].push(round[p]!);
      }
      const perRun = (model.requests.length - requestsBefore) / (PATHS.length * (N + WARMUP));
      console.log(`\n-- ${kind.name} (tools: [${kind.tools.join(', ')}], ${perRun.toFixed(1)} model calls per run)`);
      for (const measure of ['wall', 'cpu'] as const) {
        const values = (p: Path) => samples[p].map((x) => x[measure]);
        const s: Record<Path, Summary> = {
          sdk: summarize(values('sdk')),
          runner: summarize(values('runner')),
          server: summarize(values('server')),
        };
        const keys: Array<keyof Summary> = ['p50', 'p90', 'min', 'max'];
        const paired = (a: Path, b: Path) => summarize(values(a).map((v, j) => v - values(b)[j]!));
        const share = (v: number) => `${((v / s.sdk.p50) * 100).toFixed(1)} % of the sdk median`;
        const layers = paired('runner', 'sdk');
        const server = paired('server', 'runner');
        console.log(
          measure === 'wall' ? '  wall-clock time:' : '  CPU time (this process + its Claude Code processes):',
        );
        console.log(row('sdk: query() → result message', s.sdk, keys));
        console.log(row('runner: runClaude() → returned', s.runner, keys));
        console.log(row('server: POST → terminal task (long-poll)', s.server, keys));
        console.log(row("Switchyard's layers: runner − sdk, paired", layers, keys));
        console.log(row('the server on top: server − runner, paired', server, keys));
        console.log(row('both: server − sdk, paired', paired('server', 'sdk'), keys));
        console.log(`  layers, median of paired differences: ${ms(layers.p50)} = ${share(layers.p50)}`);
        console.log(`  server on top, median of paired differences: ${ms(server.p50)} = ${share(server.p50)}`);
        console.log(
          `  whole task vs sdk, difference of medians: ${ms(s.server.p50 - s.sdk.p50)} = ${share(s.server.p50 - s.sdk.p50)}`,
        );
      }
    }
  } finally {
    await bench.close();
    await proxy.close();
    await model.close();
  }
}

await main();
