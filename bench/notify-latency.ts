/**
 * Completion-notification latency: from the moment a task's terminal state is durable to the moment a
 * client learns of it, by long-poll (GET /v1/tasks/{id}?wait=60) and by SSE (the terminal `status`
 * event of GET /v1/tasks/{id}/events), compared with the article's 5 s polling loop.
 *
 * Reference point: the resolution of SqliteStore.finishTask, i.e. the COMMIT (synchronous=FULL) of the
 * terminal state. That is the earliest moment a notification may soundly go out (the orchestrator
 * acknowledges nothing before it is durable), so everything after it is notification cost. The
 * benchmark observes it by wrapping the store's method in this process; the server, the client and the
 * clock are all in one process (performance.now()), so no cross-process clock error enters. Being in one
 * process also means client parsing shares the server's event loop: a slight overestimate.
 * For comparison it also prints latency from the task's `finished_at` (wall clock, whole ms, taken just
 * before the COMMIT).
 *
 *   node_modules/.bin/node bench/notify-latency.ts --n=20
 */
import { performance } from 'node:perf_hooks';
import { startScriptedModel } from '../src/model/scripted-model.ts';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.ts';
import type { TaskFinish } from '../src/store/store.ts';
import { header, intArg, ms, row, startBenchServer, summarize } from './lib.ts';

const N = intArg('n', 20);
const WARMUP = intArg('warmup', 2);
const POLL_INTERVAL_MS = 5000;

// Instrumentation: when did each task's terminal write commit, and its terminal status event?
const finishAck = new Map<string, number>();
const statusAck = new Map<string, number>();
const proto = SqliteStore.prototype;
const finishTask = proto.finishTask;
proto.finishTask = function (this: SqliteStore, id: string, finish: TaskFinish, now: string) {
  const p = finishTask.call(this, id, finish, now);
  void p.then((changed) => changed && finishAck.set(id, performance.now()));
  return p;
};
const appendEvents = proto.appendEvents;
proto.appendEvents = function (this: SqliteStore, events) {
  const p = appendEvents.call(this, events);
  const terminal = events.find(
    (e) => e.type === 'status' && ['completed', 'failed'].includes((e.data as { status?: string }).status ?? ''),
  );
  if (terminal) void p.then(() => statusAck.set(terminal.task_id, performance.now()));
  return p;
};

interface Sample {
  /** Client learned of the end, performance.now(). */
  at: number;
  /** Client learned of the end, wall clock ms. */
  wall: number;
  id: string;
  finishedAt: string;
}

/** Reads an SSE stream until the terminal status event; returns when it was parsed. */
async function readSseUntilTerminal(res: Response): Promise<{ at: number; wall: number }> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error('SSE stream ended before a terminal status event');
      buffer += value;
      let end = buffer.indexOf('\n\n');
      while (end >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: ?(.*)$/m.exec(frame)?.[1];
        const data = /^data: ?(.*)$/m.exec(frame)?.[1];
        if (event === 'status' && data) {
          const status = (JSON.parse(data) as { status: string }).status;
          if (status === 'completed' || status === 'failed') return { at: performance.now(), wall: Date.now() };
        }
        end = buffer.indexOf('\n\n');
      }
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

/** A small, seeded PRNG so the simulated polling is the same on every run. */
function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function main(): Promise<void> {
  header('completion-notification latency: long-poll and SSE vs the article’s 5 s polling');
  console.log(`runs:    ${N} tasks per method + ${WARMUP} warm-up, one-turn scripted task, sequential, alternating`);
  const model = await startScriptedModel(() => ({ text: 'Done.' }));
  const bench = await startBenchServer(model.url, { SWITCHYARD_CONCURRENCY: '2' });
  const samples: Record<'longpoll' | 'sse', Sample[]> = { longpoll: [], sse: [] };
  let lastId = '';
  try {
    for (let i = 0; i < 2 * (N + WARMUP); i++) {
      const method = i % 2 === 0 ? 'longpoll' : 'sse';
      const posted = await fetch(`${bench.url}/v1/tasks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: `notify ${i}`, timeout: 120_000 }),
      });
      const { id } = (await posted.json()) as { id: string };
      lastId = id;
      let learned: { at: number; wall: number };
      if (method === 'longpoll') {
        const res = await fetch(`${bench.url}/v1/tasks/${id}?wait=60`);
        const task = (await res.json()) as { status: string };
        learned = { at: performance.now(), wall: Date.now() };
        if (task.status !== 'completed') throw new Error(`task ${id} ended ${task.status}`);
      } else {
        const res = await fetch(`${bench.url}/v1/tasks/${id}/events`, { headers: { accept: 'text/event-stream' } });
        learned = await readSseUntilTerminal(res);
      }
      const task = (await (await fetch(`${bench.url}/v1/tasks/${id}`)).json()) as {
        status: string;
        finished_at: string;
      };
      if (task.status !== 'completed') throw new Error(`task ${id} ended ${task.status}`);
      if (i >= 2 * WARMUP) samples[method].push({ ...learned, id, finishedAt: task.finished_at });
    }

    // One GET of a finished task: what each poll of a polling client costs (and adds to its latency).
    const rtts: number[] = [];
    for (let i = 0; i < 200; i++) {
      const t0 = performance.now();
      const res = await fetch(`${bench.url}/v1/tasks/${lastId}`);
      await res.arrayBuffer();
      rtts.push(performance.now() - t0);
    }

    console.log('\nlatency from the durable terminal write (finishTask COMMIT acknowledged) to the client:');
    for (const method of ['longpoll', 'sse'] as const) {
      const s = samples[method];
      const label = method === 'longpoll' ? 'long-poll ?wait=60' : 'SSE terminal status event';
      console.log(row(label, summarize(s.map((x) => x.at - finishAck.get(x.id)!)), ['p50', 'p90', 'max', 'mean']));
    }
    console.log('\nwhere it goes (from the same reference):');
    const all = [...samples.longpoll, ...samples.sse];
    console.log(
      row('terminal status event committed', summarize(all.map((x) => statusAck.get(x.id)! - finishAck.get(x.id)!)), [
        'p50',
        'p90',
        'max',
      ]),
    );
    console.log(row('GET /v1/tasks/{id} round trip', summarize(rtts), ['p50', 'p90', 'max']));
    console.log('\nfrom finished_at (wall clock, whole ms, stamped before the COMMIT) — coarser, for reference:');
    for (const method of ['longpoll', 'sse'] as const) {
      const s = samples[method];
      console.log(
        row(method, summarize(s.map((x) => x.wall - Date.parse(x.finishedAt))), ['p50', 'p90', 'max', 'mean']),
      );
    }

    // The article's loop: sleep 5 s, GET, repeat. The end falls at a uniform phase of the cycle, so the
    // wait is U(0, 5 s) plus one GET: mean 2.5 s, p50 2.5 s, p90 4.5 s, max 5 s (+ the GET).
    const random = mulberry32(42);
    const simulated: number[] = [];
    for (let i = 0; i < 100_000; i++) {
      simulated.push(random() * POLL_INTERVAL_MS + rtts[Math.floor(random() * rtts.length)]!);
    }
    console.log(
      `\nthe article's polling every ${POLL_INTERVAL_MS / 1000} s (simulated: uniform phase + a measured GET):`,
    );
    console.log(row('5 s polling (100k simulated)', summarize(simulated), ['p50', 'p90', 'max', 'mean']));
    console.log('  analytically: U(0, 5 s) + GET → mean 2.5 s, p50 2.5 s, p90 4.5 s, max 5 s');

    const p50 = Math.max(
      summarize(samples.longpoll.map((x) => x.at - finishAck.get(x.id)!)).p50,
      summarize(samples.sse.map((x) => x.at - finishAck.get(x.id)!)).p50,
    );
    console.log(`\ntarget p50 < 10 ms for both: ${p50 < 10 ? 'met' : 'MISSED'} (worse p50 ${ms(p50)})`);
  } finally {
    await bench.close();
    await model.close();
  }
}

await main();
