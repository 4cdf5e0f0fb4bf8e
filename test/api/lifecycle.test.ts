import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { Script } from '../../src/model/scripted-model.ts';
import { fileAppears, startHarness } from '../fixtures/harness.ts';
import { testBackend } from '../fixtures/test-backend.ts';

async function submit(h: Awaited<ReturnType<typeof startHarness>>, body: Record<string, unknown>) {
  const res = await h.fetch('/v1/tasks', { method: 'POST', json: body });
  assert.equal(res.status, 201, await res.clone().text());
  return (await res.json()) as { id: string; status: string };
}

/** The fields of a task these tests read. */
interface TaskJson {
  status: string;
  error: { kind: string; message: string; retryable: boolean };
  result: { num_turns: number };
  started_at: string;
  finished_at: string;
}

async function waitTask(h: Awaited<ReturnType<typeof startHarness>>, id: string) {
  const res = await h.fetch(`/v1/tasks/${id}?wait=60`);
  return (await res.json()) as TaskJson;
}

/** Processes whose command line mentions this marker: what a task left behind. */
function processesWith(marker: string): string[] {
  const out = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.includes(marker) && !l.includes('ps -eo'));
}

test('a model that never answers hits the wall-clock timeout: failed/timeout, and not before the deadline', async () => {
  const h = await startHarness({ script: () => ({ hang: true }) });
  try {
    const task = await submit(h, { prompt: 'hang', timeout: 1500 });
    const done = await waitTask(h, task.id);
    assert.equal(done.status, 'failed');
    assert.equal(done.error.kind, 'timeout');
    assert.equal(done.error.retryable, true);
    // The order of things, not a speed: the task ran, then the deadline ended it, and not before its time.
    const events = await (await h.fetch(`/v1/tasks/${task.id}/events`)).text();
    const statuses = [...events.matchAll(/"status":"(\w+)"/g)].map((m) => m[1]);
    assert.deepEqual([statuses[0], statuses.at(-1)], ['running', 'failed']);
    assert.ok(Date.parse(done.finished_at) - Date.parse(done.started_at) >= 1500, 'ended before its deadline');
  } finally {
    await h.close();
  }
});

test('idle timeout ends a silent agent with kind idle_timeout', async () => {
  const h = await startHarness({ script: () => ({ hang: true }) });
  try {
    const task = await submit(h, { prompt: 'hang', timeout: 60000, idle_timeout: 1000 });
    const done = await waitTask(h, task.id);
    assert.equal(done.status, 'failed');
    assert.equal(done.error.kind, 'idle_timeout');
  } finally {
    await h.close();
  }
});

test('cancel of a running task kills its process tree: no orphans afterwards', { timeout: 60_000 }, async () => {
  // Claude Code refuses a bare `sleep`; a long-running `timeout … tail` is the same for our purpose. It runs
  // in the background, so it outlives the Bash call and Claude Code's own cleanup: only our tree kill ends it.
  const marker = `timeout 3${Math.floor(Math.random() * 1000) + 1000} tail -f /dev/null`;
  const script: Script = (req) => {
    if (req.prompt === 'next') return { text: 'ok' };
    return req.turnIndex === 0
      ? { tool_use: { name: 'Bash', input: { command: `touch bash.started && ${marker} &`, timeout: 600000 } } }
      : { hang: true };
  };
  // One slot: the next task starts only once the cancelled task's whole tree has been killed and reaped.
  const h = await startHarness({ script, env: { SWITCHYARD_CONCURRENCY: '1' } });
  try {
    const started = fileAppears(h.workspace, 'bash.started');
    const task = await submit(h, {
      prompt: 'sleep',
      allowed_tools: ['Bash(touch *)', 'Bash(timeout *)'],
      timeout: 60000,
    });
    await started;
    const res = await h.fetch(`/v1/tasks/${task.id}/cancel`, { method: 'POST' });
    assert.equal(res.status, 200);
    const done = await waitTask(h, task.id);
    assert.equal(done.status, 'failed');
    assert.equal(done.error.kind, 'cancelled');
    const next = await submit(h, { prompt: 'next' });
    assert.equal((await waitTask(h, next.id)).status, 'completed');
    assert.deepEqual(processesWith(marker), []);
  } finally {
    await h.close();
  }
});

test('cancel of a queued task fails it at once with kind cancelled', async () => {
  const h = await startHarness({ script: () => ({ hang: true }), env: { SWITCHYARD_CONCURRENCY: '1' } });
  try {
    const first = await submit(h, { prompt: 'hang', timeout: 60000 });
    const second = await submit(h, { prompt: 'queued', timeout: 60000 });
    const res = await h.fetch(`/v1/tasks/${second.id}/cancel`, { method: 'POST' });
    const body = (await res.json()) as TaskJson;
    assert.equal(body.status, 'failed');
    assert.equal(body.error.kind, 'cancelled');
    await h.fetch(`/v1/tasks/${first.id}/cancel`, { method: 'POST' });
  } finally {
    await h.close();
  }
});

test('a cancel that lands in the same commit as the claim still stops the run', async () => {
  const h = await startHarness({ env: { SWITCHYARD_CONCURRENCY: '1' } });
  try {
    // In-process, so the claim (queued by submit's wake) and the cancel's write share one group commit:
    // the cancel reads the task as queued, and the claim moves it to running just before the write.
    const { task } = await h.server.tasks.submit({ prompt: 'raced', timeout: 60000 });
    const cancelled = await h.server.tasks.cancel(task.id);
    assert.equal(cancelled.status, 'failed');
    assert.equal(cancelled.error?.kind, 'cancelled');
    // Both orders happened: the cancel read the task as queued and wrote its own end (the message says
    // so), and the claim came first in that commit (it counted an attempt and stamped started_at).
    // Without these the test passes just as well when there was no race at all. The shared commit is
    // SQLite's group commit; on PostgreSQL the two writes are separate transactions and either may win,
    // so there only the outcome below is checked.
    if (testBackend() === 'sqlite') {
      assert.equal(cancelled.error?.message, 'task was cancelled before it started');
      assert.equal(cancelled.attempts, 1, 'the scheduler claimed the task before the cancel was written');
      assert.ok(cancelled.started_at !== null && cancelled.started_at <= cancelled.finished_at!);
    }
    // One slot, FIFO: this one runs only once the raced run has let go of the slot.
    const next = await submit(h, { prompt: 'next' });
    assert.equal((await waitTask(h, next.id)).status, 'completed');
    assert.deepEqual(
      h.model.requests.filter((r) => r.prompt === 'raced'),
      [],
      'the cancelled task still reached the model',
    );
    const events = await (await h.fetch(`/v1/tasks/${task.id}/events`)).text();
    assert.match(events, /"status":"failed"[^\n]*\nid: \d+\n\n$/, 'the stream ends on the terminal status');
  } finally {
    await h.close();
  }
});

test('a model API error is never "completed": 529 → overloaded, 429 with credit text → quota', async () => {
  const script: Script = (req) =>
    req.prompt.includes('overload')
      ? { error: { status: 529, type: 'overloaded_error', message: 'Overloaded' } }
      : { error: { status: 429, type: 'rate_limit_error', message: 'Your credit balance is too low' } };
  const h = await startHarness({ script });
  try {
    const a = await submit(h, { prompt: 'overload please' });
    const b = await submit(h, { prompt: 'no money' });
    const da = await waitTask(h, a.id);
    const db = await waitTask(h, b.id);
    assert.equal(da.status, 'failed');
    assert.equal(da.error.kind, 'overloaded');
    assert.equal(db.status, 'failed');
    assert.equal(db.error.kind, 'quota');
  } finally {
    await h.close();
  }
});

test('max_turns ends the task failed/max_turns', async () => {
  const script: Script = () => ({ tool_use: { name: 'Glob', input: { pattern: '*' } } });
  const h = await startHarness({ script });
  try {
    const t = await submit(h, { prompt: 'loop', allowed_tools: ['Glob'], max_turns: 2 });
    const done = await waitTask(h, t.id);
    assert.equal(done.status, 'failed');
    assert.equal(done.error.kind, 'max_turns');
    assert.equal(done.result.num_turns >= 2, true);
  } finally {
    await h.close();
  }
});

test('a Claude Code that never starts ends failed/startup and leaves no process behind', {
  timeout: 60_000,
}, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fake-claude-'));
  const fake = path.join(dir, 'claude');
  const marker = `fake-claude-${process.pid}`;
  const started = path.join(dir, 'started');
  // It says it started (its pid), ignores SIGTERM, and never speaks: only a kill of its tree ends it.
  fs.writeFileSync(
    fake,
    `#!/bin/bash\ntrap '' TERM\necho $$ > ${started}.tmp && mv ${started}.tmp ${started}\nexec -a ${marker} tail -f /dev/null\n`,
    {
      mode: 0o755,
    },
  );
  const appeared = fileAppears(dir, 'started');
  // Unsandboxed: the kill by process tree is what ends a task where no sandbox is available (in the
  // sandbox the PID namespace does it: sandbox.test.ts), and the fake reports its host pid here.
  const h = await startHarness({
    env: { SWITCHYARD_CLAUDE_PATH: fake, SWITCHYARD_STARTUP_TIMEOUT: '1000', SWITCHYARD_SANDBOX: 'off' },
  });
  try {
    const task = await submit(h, { prompt: 'x' });
    await appeared;
    // The control: the process this test says is gone did exist, and was running as the task's agent.
    const pid = Number(fs.readFileSync(started, 'utf8'));
    assert.ok(isAlive(pid), 'the fake Claude Code was running');
    const done = await waitTask(h, task.id);
    assert.equal(done.status, 'failed');
    assert.equal(done.error.kind, 'startup', done.error.message);
    assert.match(done.error.message, /did not start within 1000 ms/);
    assert.equal(isAlive(pid), false, `pid ${pid} outlived its task`);
    assert.deepEqual(processesWith(marker), []);
  } finally {
    await h.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** True while pid is a live process (a zombie waiting to be reaped is dead). */
function isAlive(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
}

test('a full queue answers 429 with Retry-After, and what was accepted still runs', { timeout: 60_000 }, async () => {
  let blockerReachedModel: () => void = () => {};
  const blocking = new Promise<void>((r) => (blockerReachedModel = r));
  const h = await startHarness({
    script: (req) => {
      if (req.prompt !== 'block') return { text: 'ok' };
      blockerReachedModel();
      return { hang: true };
    },
    env: { SWITCHYARD_CONCURRENCY: '1', SWITCHYARD_QUEUE_LIMIT: '2' },
  });
  try {
    const blocker = await submit(h, { prompt: 'block', timeout: 60000 });
    await blocking;
    // The blocker holds the only slot, so the queue holds exactly what is submitted next.
    assert.equal((await waitTask0(h, blocker.id)).status, 'running');
    const a = await submit(h, { prompt: 'a' });
    const b = await submit(h, { prompt: 'b' });
    const refused = await h.fetch('/v1/tasks', { method: 'POST', json: { prompt: 'c' } });
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get('retry-after'), '5');
    assert.equal(((await refused.json()) as TaskJson).error.kind, 'queue_full');
    await h.fetch(`/v1/tasks/${blocker.id}/cancel`, { method: 'POST' });
    assert.equal((await waitTask(h, a.id)).status, 'completed');
    assert.equal((await waitTask(h, b.id)).status, 'completed');
  } finally {
    await h.close();
  }
});

async function waitTask0(h: Awaited<ReturnType<typeof startHarness>>, id: string) {
  return (await (await h.fetch(`/v1/tasks/${id}`)).json()) as TaskJson;
}
