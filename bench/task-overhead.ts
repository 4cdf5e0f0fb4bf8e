/**
 * Per-task overhead of Switchyard over calling the Agent SDK's query() directly, on the same scripted
 * model and the same task: a one-turn text reply, and a two-turn task with one allowed Glob call.
 *
 *   server: POST /v1/tasks → GET /v1/tasks/{id}?wait=60 returns the terminal task
 *   direct: query() called → its `result` message arrives (and, for reference, → its iterator ends)
 *
 * Runs alternate server/direct (and which goes first) so drift hits both alike. Knobs: --n=20 runs
 * per path and task kind, --warmup=2 discarded runs of each.
 *
 *   node_modules/.bin/node bench/task-overhead.ts --n=20
 */
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { type Options, query, type SDKMessage, type SDKResultMessage } from '@anthropic-ai/claude-agent-sdk';
import { type Script, startScriptedModel } from '../src/model/scripted-model.ts';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.ts';
import { claudeEnv, header, intArg, ms, row, startBenchServer, summarize, tempDir } from './lib.ts';

const N = intArg('n', 20);
const WARMUP = intArg('warmup', 2);

// Instrumentation, to say where the server's extra time goes: when each task was claimed, when its
// agent's `result` message arrived (the event's created_at, stamped on arrival), and when the runner
// returned (finishTask is called right after). Wall-clock ms via timeOrigin, to match created_at.
const wallNow = () => performance.timeOrigin + performance.now();
const claimedAt = new Map<string, number>();
const resultAt = new Map<string, number>();
const runnerDoneAt = new Map<string, number>();
const store = SqliteStore.prototype;
const claimNextTask = store.claimNextTask;
store.claimNextTask = function (this: SqliteStore, now: string) {
  const p = claimNextTask.call(this, now);
  void p.then((task) => task && claimedAt.set(task.id, wallNow()));
  return p;
};
const appendEvents = store.appendEvents;
store.appendEvents = function (this: SqliteStore, events) {
  for (const e of events) if (e.type === 'result') resultAt.set(e.task_id, Date.parse(e.created_at));
  return appendEvents.call(this, events);
};
const finishTask = store.finishTask;
store.finishTask = function (this: SqliteStore, id, finish, now) {
  runnerDoneAt.set(id, wallNow());
  return finishTask.call(this, id, finish, now);
};

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

interface TaskView {
  status: string;
  response: string | null;
  error: unknown;
  created_at: string;
  started_at: string;
  finished_at: string;
}

interface ServerSample {
  total: number;
  submit: number;
  /** POST sent → task claimed, Claude Code about to start. */
  toStart: number;
  /** The agent's result message → the runner returned (Claude Code exited, process tree cleaned). */
  resultToRunnerDone: number;
  /** Runner returned → the client has the terminal task. */
  runnerDoneToClient: number;
}

interface DirectSample {
  result: number;
  end: number;
}

async function main(): Promise<void> {
  header('task overhead: Switchyard vs Agent SDK query() on the same scripted task');
  console.log(`runs:    ${N} measured + ${WARMUP} warm-up per path and task kind, interleaved, sequential`);
  const model = await startScriptedModel(script);
  const bench = await startBenchServer(model.url, { SWITCHYARD_CONCURRENCY: '2' });
  fs.writeFileSync(path.join(bench.workspace, 'README.md'), '# bench\n');
  const configRoot = tempDir('switchyard-bench-direct-');
  let runId = 0;

  const viaServer = async (kind: Kind): Promise<ServerSample> => {
    const prompt = `${kind.prompt} ${++runId}`;
    const t0 = performance.now();
    const w0 = wallNow();
    const posted = await fetch(`${bench.url}/v1/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt, allowed_tools: kind.tools, timeout: 120_000 }),
    });
    const created = (await posted.json()) as { id: string };
    const t1 = performance.now();
    if (posted.status !== 201) throw new Error(`POST /v1/tasks → ${posted.status} ${JSON.stringify(created)}`);
    const res = await fetch(`${bench.url}/v1/tasks/${created.id}?wait=60`);
    const task = (await res.json()) as TaskView;
    const t2 = performance.now();
    const w2 = wallNow();
    if (task.status !== 'completed' || task.response !== kind.expect) {
      throw new Error(`server task ended ${task.status}: ${JSON.stringify(task.error ?? task.response)}`);
    }
    const id = created.id;
    return {
      total: t2 - t0,
      submit: t1 - t0,
      toStart: claimedAt.get(id)! - w0,
      resultToRunnerDone: runnerDoneAt.get(id)! - resultAt.get(id)!,
      runnerDoneToClient: w2 - runnerDoneAt.get(id)!,
    };
  };

  const direct = async (kind: Kind): Promise<DirectSample> => {
    const prompt = `${kind.prompt} ${++runId}`;
    const configDir = path.join(configRoot, String(runId));
    // The server makes the per-task config dir inside the measured time too.
    const t0 = performance.now();
    fs.mkdirSync(configDir, { recursive: true, mode: 0o700 });
    // The options run-claude.ts passes, minus our own gate and process-tree bookkeeping.
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
      if (message.type === 'result') {
        tResult = performance.now();
        result = message;
      }
    }
    const tEnd = performance.now();
    if (result?.subtype !== 'success' || result.result !== kind.expect) {
      throw new Error(`direct query ended without the expected result: ${JSON.stringify(result)}`);
    }
    return { result: tResult - t0, end: tEnd - t0 };
  };

  try {
    for (const kind of KINDS) {
      const server: ServerSample[] = [];
      const sdk: DirectSample[] = [];
      const requestsBefore = model.requests.length;
      for (let i = 0; i < N + WARMUP; i++) {
        let s: ServerSample;
        let d: DirectSample;
        if (i % 2 === 0) {
          s = await viaServer(kind);
          d = await direct(kind);
        } else {
          d = await direct(kind);
          s = await viaServer(kind);
        }
        if (i >= WARMUP) {
          server.push(s);
          sdk.push(d);
        }
      }
      const perRun = (model.requests.length - requestsBefore) / (2 * (N + WARMUP));
      const total = summarize(server.map((s) => s.total));
      const dResult = summarize(sdk.map((d) => d.result));
      const dEnd = summarize(sdk.map((d) => d.end));
      const paired = summarize(server.map((s, i) => s.total - sdk[i]!.result));
      console.log(`\n-- ${kind.name} (tools: [${kind.tools.join(', ')}], ${perRun.toFixed(1)} model calls per run)`);
      console.log(row('server: POST → terminal (long-poll)', total, ['p50', 'p90', 'min', 'max']));
      console.log(row('direct: query() → result message', dResult, ['p50', 'p90', 'min', 'max']));
      console.log(row('direct: query() → iterator done', dEnd, ['p50', 'p90', 'min', 'max']));
      console.log(row('server - direct(result), paired', paired, ['p50', 'p90', 'min', 'max']));
      const part = (label: string, pick: (x: ServerSample) => number) =>
        console.log(row(label, summarize(server.map(pick)), ['p50', 'p90', 'max']));
      console.log('  where the server path spends its extra time:');
      part('  POST round trip (durable insert)', (x) => x.submit);
      part('  POST sent → task claimed', (x) => x.toStart);
      part('  result message → runner returned', (x) => x.resultToRunnerDone);
      part('  runner returned → client has it', (x) => x.runnerDoneToClient);
      console.log(
        row('  (direct: result → iterator done)', summarize(sdk.map((d) => d.end - d.result)), ['p50', 'p90', 'max']),
      );
      const fixed =
        summarize(server.map((x) => x.toStart)).p50 +
        summarize(server.map((x) => x.resultToRunnerDone)).p50 +
        summarize(server.map((x) => x.runnerDoneToClient)).p50;
      console.log(
        `  server-only time, sum of the three medians above: ${ms(fixed)} = ${((fixed / dResult.p50) * 100).toFixed(1)} %` +
          ' of the direct median (robust to load; the whole-run difference below is not)',
      );
      const overhead = ((total.p50 - dResult.p50) / dResult.p50) * 100;
      const overheadEnd = ((total.p50 - dEnd.p50) / dEnd.p50) * 100;
      console.log(
        `  overhead (median server vs median direct→result): ${ms(total.p50 - dResult.p50)} = ${overhead.toFixed(1)} %` +
          `  [target ≤ 5 %: ${overhead <= 5 ? 'met' : 'MISSED'}]`,
      );
      console.log(
        `  overhead (median server vs median direct→iterator done): ${ms(total.p50 - dEnd.p50)} = ${overheadEnd.toFixed(1)} %`,
      );
    }
  } finally {
    await bench.close();
    await model.close();
  }
}

await main();
