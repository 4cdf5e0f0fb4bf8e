/**
 * Runs tasks as the queue driver delivers their jobs (src/cluster/queue-driver.ts), as many at once as
 * there are free Claude Code slots. A job names a task; the handler claims it in the Store
 * (`queued → running`, attempts + 1), and that attempt number fences every later write of the run, so a
 * worker presumed dead that comes back cannot overwrite a newer attempt. Every transition is written
 * to the Store before anyone is told about it.
 *
 * A job delivered again (`deliveries > 1`) for a task still `running` means the worker that held it
 * stopped (killed, drained, lost its lease): a retry_safe task runs again as the next attempt, any
 * other ends `failed` with kind `interrupted`.
 */
import path from 'node:path';
import type { QueueDriver, QueueJob } from '../cluster/queue-driver.ts';
import { type ErrorInfo, toErrorInfo } from '../errors.ts';
import type { Semaphore } from '../runners/claude/admission.ts';
import type { ToolPolicy } from '../runners/claude/policy.ts';
import type { ClaudeInput } from '../runners/claude/run-claude.ts';
import type { SandboxStatus } from '../runners/claude/sandbox.ts';
import { type OutputEnvelope, type RunContext, RunnerError } from '../runners/runner.ts';
import type { Redactor } from '../secrets/redactor.ts';
import { type Store, type TaskEvent, type TaskFinish, type TaskRecord, TERMINAL } from '../store/store.ts';
import type { NormalizedRequest } from './request.ts';
import { DEFAULT_MAX_TRANSCRIPT_BYTES, restoreTranscript, saveTranscript } from './session-transcripts.ts';
import { announceTerminal, type TaskNotifier } from './task-events.ts';

export interface ClaudeRunHooks {
  onAgentSession: (id: string) => void;
  /** Told when Claude Code's processes are gone, which may be a little after the task's result. */
  onExit: (exited: Promise<void>) => void;
}

export type ClaudeRunner = (input: ClaudeInput, ctx: RunContext, hooks: ClaudeRunHooks) => Promise<OutputEnvelope>;

export interface SchedulerDeps {
  store: Store;
  notifier: TaskNotifier;
  runClaude: ClaudeRunner;
  dataDir: string;
  /** Applied to everything stored about a task: agent messages, responses, errors. */
  redactor: Redactor;
  /** Called after a task's terminal state is durable (webhooks, metrics). */
  onTerminal?: (task: TaskRecord) => void;
  /** The OS sandbox tasks run under, reported in each task's `result.policy`. */
  sandbox?: SandboxStatus;
  /**
   * Claude Code slots shared with workflow claude steps (admission.ts). A task is claimed only when
   * one is free, and holds it until its process is gone.
   */
  slots: Semaphore;
  /** Where `task` jobs come from. */
  queue: QueueDriver;
  /**
   * Other processes share the queue (PostgreSQL): a job this worker cannot start soon is handed back
   * for a worker with a free slot, and queued tasks whose job was lost are sent again every
   * `reconcileSeconds`.
   */
  shared: boolean;
  reconcileSeconds?: number;
  /** The largest session transcript kept for a follow-up on another worker (session-transcripts.ts). */
  maxTranscriptBytes?: number;
  /** Told of what the scheduler cannot do now and retries later (a send, a reconcile pass). */
  onError?: (err: unknown, what: string) => void;
}

/** Shared queue: how long a delivered job may wait for a slot before it is handed back to the cluster. */
const SLOT_WAIT_MS = 2000;
/** How long a run's finish keeps trying while the database cannot be reached. */
const FINISH_RETRY_MS = 30_000;
/** A retry_safe turn is taken over from a dead worker at most this often: one that kills its worker every time ends. */
const MAX_RETAKES = 2;

export class TaskScheduler {
  readonly #deps: SchedulerDeps;
  /** Every run holding a slot, until its process is gone: what admission and drain count. */
  readonly #active = new Set<AbortController>();
  /**
   * The run a cancel of the task reaches, until its outcome is durable. A run whose process is still
   * exiting is not in here, so a cancel finds the task's queued or running follow-up instead.
   */
  readonly #running = new Map<string, AbortController>();
  /**
   * Per run, its subscription to the task's end: a cancel written by another node (an api node, which
   * runs nothing) ends the task in the Store and announces it; hearing that, the run here stops.
   */
  readonly #endWatch = new Map<AbortController, () => void>();
  /** Per task, the exit of its last Claude Code process: a follow-up must not resume before it. */
  readonly #exiting = new Map<string, Promise<void>>();
  #stopped = false;
  #reconciler: NodeJS.Timeout | undefined;
  /** Told of every claim, so the service's queued count stays exact without a COUNT query. */
  onClaimed: () => void = () => {};

  constructor(deps: SchedulerDeps) {
    this.#deps = deps;
  }

  get runningCount(): number {
    return this.#active.size;
  }

  /** Starts taking `task` jobs (the worker and all roles). */
  async start(): Promise<void> {
    const { queue, slots, shared, reconcileSeconds } = this.#deps;
    await queue.work('task', { concurrency: slots.capacity }, (job) => this.#handle(job));
    if (shared && reconcileSeconds) {
      this.#reconciler = setInterval(() => void this.#reconcile(reconcileSeconds), reconcileSeconds * 1000);
      this.#reconciler.unref();
    }
  }

  /** Sends the jobs of tasks queued for longer than `seconds` (a crash between the queued write and the send). */
  async #reconcile(seconds: number): Promise<void> {
    try {
      const before = new Date(Date.now() - seconds * 1000).toISOString();
      for (const id of await this.#deps.store.listQueuedTasks(before, 500)) {
        if (this.#stopped) return;
        // Keyed by the task: a job already waiting for it makes this send a no-op.
        await this.#deps.queue.send('task', id, { key: id });
      }
    } catch (err) {
      this.#deps.onError?.(err, 'reconciling queued tasks');
    }
  }

  async #handle(job: QueueJob): Promise<void> {
    const { slots, shared } = this.#deps;
    if (this.#stopped) throw new Error('this worker is draining');
    // Admission before the claim: a job is only taken when its task can start here. On a shared queue a
    // job that would wait goes back to the cluster, so a busy worker does not hoard what others could run.
    const waitFor = shared ? AbortSignal.any([job.signal, AbortSignal.timeout(SLOT_WAIT_MS)]) : job.signal;
    await slots.acquire(waitFor);
    const controller = new AbortController();
    let task: TaskRecord | undefined;
    try {
      task = await this.#take(job, controller);
    } finally {
      if (!task) slots.release();
    }
    if (!task) return;
    this.onClaimed();
    // The job's signal aborts on drain (after the grace) or a lost lease: the run stops, its job goes back.
    const onJobAbort = () => controller.abort('shutdown');
    job.signal.addEventListener('abort', onJobAbort, { once: true });
    this.#active.add(controller);
    try {
      // Until the process is gone: the job (and its key) is held, so a follow-up's job waits for it.
      await this.#run(task, controller);
    } finally {
      job.signal.removeEventListener('abort', onJobAbort);
      this.#active.delete(controller);
      this.#forget(task.id, controller);
      slots.release();
    }
  }

  /**
   * The task this job may run now, claimed and registered under `controller` (in the claim's own
   * continuation, so a cancel written in the same commit finds the run); or undefined when there is
   * nothing (more) to run.
   */
  async #take(job: QueueJob, controller: AbortController): Promise<TaskRecord | undefined> {
    const { store } = this.#deps;
    const now = new Date().toISOString();
    const claimed = await store.claimTask(job.id, now);
    if (claimed) this.#register(claimed.id, controller);
    if (claimed || job.deliveries === 1) return claimed;
    const task = await store.getTask(job.id);
    // Not running (a repeated send, a cancel), or running here after all: nothing to take over.
    if (task?.status !== 'running' || this.#running.has(task.id)) return undefined;
    if (task.retry_safe) {
      const retaken = await store.retakeTask(task.id, task.attempts, now, MAX_RETAKES);
      if (retaken) this.#register(retaken.id, controller);
      if (retaken) return retaken;
      // Moved on meanwhile (nothing to do), or out of retakes (ended below).
      const again = await store.getTask(task.id);
      if (again?.status !== 'running' || again.attempts !== task.attempts) return undefined;
    }
    const error: ErrorInfo = {
      kind: 'interrupted',
      message:
        `the worker running this task stopped during attempt ${task.attempts}` +
        (task.retry_safe
          ? ` (it was run again ${MAX_RETAKES} times already)`
          : '; the task is not retry_safe, so it was not run again'),
      retryable: true,
    };
    const finish: TaskFinish = { status: 'failed', response: null, result: { policy: task.policy }, error };
    if (await store.finishTask(task.id, finish, now, task.attempts)) {
      const saved = await store.getTask(task.id);
      if (saved) await announceTerminal(store, this.#deps.notifier, this.#deps.onTerminal, saved);
    }
    return undefined;
  }

  /** The run a cancel reaches, here (`cancel`) or from another node (the task's end, announced). */
  #register(taskId: string, controller: AbortController): void {
    this.#running.set(taskId, controller);
    const stop = () => controller.abort('cancel');
    this.#endWatch.set(controller, this.#deps.notifier.onTerminal(taskId, stop));
    // An end announced between the claim's commit and this subscription was not heard: look once.
    void this.#deps.store.getTask(taskId).then(
      (t) => {
        if (t && TERMINAL.has(t.status)) stop();
      },
      (err: unknown) => this.#deps.onError?.(err, `reading task ${taskId} after its claim`),
    );
  }

  /** Stops hearing the task's end: from here on, the end is this run's own. */
  #unwatch(controller: AbortController): void {
    this.#endWatch.get(controller)?.();
    this.#endWatch.delete(controller);
  }

  /** Aborts a running task; returns false if it is not running here. */
  cancel(taskId: string): boolean {
    const controller = this.#running.get(taskId);
    if (!controller) return false;
    controller.abort('cancel');
    return true;
  }

  /**
   * Drain: takes no new jobs; running tasks get `graceMs` to finish, then are stopped and their jobs
   * handed back (on a shared queue another worker retakes or interrupts them; embedded, the next start
   * recovers them). Stops the queue driver: call it once, for every queue this process works.
   */
  async drain(graceMs: number): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#reconciler);
    await this.#deps.queue.stop(graceMs);
    // A run the driver did not hold (none should be left) is stopped the same way.
    for (const controller of this.#active) controller.abort('shutdown');
    while (this.#active.size > 0) await new Promise((r) => setTimeout(r, 20));
  }

  #forget(taskId: string, controller: AbortController): void {
    if (this.#running.get(taskId) === controller) this.#running.delete(taskId);
    this.#unwatch(controller);
  }

  async #run(task: TaskRecord, controller: AbortController): Promise<void> {
    const { store, notifier } = this.#deps;
    const request = task.request as unknown as NormalizedRequest;
    let pendingEvents: Promise<unknown> = Promise.resolve();
    const emit = (type: string, data: unknown) => {
      const event = {
        task_id: task.id,
        type,
        data: this.#deps.redactor.value(data),
        created_at: new Date().toISOString(),
      };
      pendingEvents = pendingEvents.then(() =>
        store
          .appendEvents([event], task.attempts)
          .then((saved: TaskEvent[]) => notifier.publishEvents(saved))
          // An event that cannot be written now (the database restarting) is lost, not fatal: the run
          // goes on, and its finish, written later, is what decides the task.
          .catch(() => undefined),
      );
    };
    emit('status', { status: 'running', attempt: task.attempts });
    const input: ClaudeInput = {
      prompt: task.pending_message ?? request.prompt,
      policy: task.policy as unknown as ToolPolicy,
      cwd: request.cwd,
      timeout: request.timeout,
      idle_timeout: request.idle_timeout,
      configDir: path.join(this.#deps.dataDir, 'claude', task.id),
    };
    if (request.model) input.model = request.model;
    if (request.max_turns) input.max_turns = request.max_turns;
    if (request.max_budget_usd) input.max_budget_usd = request.max_budget_usd;
    if (request.system_prompt_append) input.system_prompt_append = request.system_prompt_append;
    if (request.output_schema) input.output_schema = request.output_schema;
    if (task.pending_message && task.agent_session_id) input.resume = task.agent_session_id;

    const ctx: RunContext = { signal: controller.signal, emit: (e) => emit(e.type, e.data) };
    // A follow-up resumes the transcript the previous process may still be writing.
    await this.#exiting.get(task.id);
    let exited: Promise<void> = Promise.resolve();
    let finish: TaskFinish;
    let sessionId: string | undefined;
    const maxTranscriptBytes = this.#deps.maxTranscriptBytes ?? DEFAULT_MAX_TRANSCRIPT_BYTES;
    try {
      // The previous turn may have run on another worker: its transcript comes from the Store.
      if (input.resume)
        await restoreTranscript(store, this.#transcriptPlace(task, input, input.resume), maxTranscriptBytes);
      const out = await this.#deps.runClaude(input, ctx, {
        onAgentSession: (id) => {
          sessionId = id;
          void store.setAgentSession(task.id, id, task.attempts).catch(() => undefined);
        },
        onExit: (p) => {
          exited = p;
          this.#exiting.set(task.id, p);
          void p.finally(() => {
            if (this.#exiting.get(task.id) === p) this.#exiting.delete(task.id);
          });
        },
      });
      finish = { status: 'completed', response: out.response, result: this.#resultOf(task, out), error: null };
    } catch (err) {
      const envelope = err instanceof RunnerError ? err.envelope : undefined;
      finish = {
        status: 'failed',
        response: envelope?.response ?? null,
        result: this.#resultOf(task, envelope),
        error: toErrorInfo(err),
      };
    }
    // The finish below announces the end here too; it must not abort the exiting process.
    this.#unwatch(controller);
    await pendingEvents.catch(() => undefined);
    if (controller.signal.reason !== 'shutdown') await this.#finish(task, finish, () => pendingEvents);
    this.#forget(task.id, controller);
    // The slot stays taken until the process is gone, so admission by memory stays honest.
    await exited;
    // Kept while this job (and its key) is still held, so the task's next follow-up, wherever it runs,
    // waits for it. A run stopped for shutdown is retaken from the previous turn's copy instead.
    if (sessionId && controller.signal.reason !== 'shutdown') {
      const place = this.#transcriptPlace(task, input, sessionId);
      await retrying(FINISH_RETRY_MS, () => saveTranscript(store, place, task.attempts, maxTranscriptBytes)).then(
        (outcome) => {
          if (outcome === 'too_large' || outcome === 'missing') {
            const why = outcome === 'missing' ? 'not found' : 'larger than SWITCHYARD_MAX_TRANSCRIPT_BYTES';
            const err = new Error(`the transcript was ${why}: a follow-up can resume only on this worker`);
            this.#deps.onError?.(err, `keeping the transcript of task ${task.id}`);
          }
        },
        (err) => this.#deps.onError?.(err, `keeping the transcript of task ${task.id}`),
      );
    }
  }

  #transcriptPlace(task: TaskRecord, input: ClaudeInput, sessionId: string) {
    return { taskId: task.id, configDir: input.configDir, cwd: input.cwd, sessionId };
  }

  async #finish(task: TaskRecord, finish: TaskFinish, pending: () => Promise<unknown>): Promise<void> {
    const { store, notifier } = this.#deps;
    const now = new Date().toISOString();
    const redacted = this.#deps.redactor.value(finish);
    // The outcome is the run's whole worth: a database that is briefly away (a restart, a failover) is
    // waited for, within the lease; the fence still keeps a write that comes too late from landing.
    const written = await retrying(FINISH_RETRY_MS, () => store.finishTask(task.id, redacted, now, task.attempts));
    if (!written) return;
    // The agent's own events go first, so the terminal status event is the last in the log.
    await pending().catch(() => undefined);
    const saved = await store.getTask(task.id);
    if (saved) await announceTerminal(store, notifier, this.#deps.onTerminal, saved);
  }

  /** The effective policy is the rules plus the sandbox they ran in. */
  #resultOf(task: TaskRecord, out: OutputEnvelope | undefined): Record<string, unknown> {
    const policy = { ...task.policy, sandbox: this.#deps.sandbox ?? null };
    if (!out) return { policy };
    return {
      response: out.response,
      structured_output: out.data ?? null,
      usage: out.usage ?? null,
      ...out.detail,
      policy,
    };
  }
}

/** Runs `write` until it succeeds or `withinMs` has passed (then its last error is thrown). */
async function retrying<T>(withinMs: number, write: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (let wait = 250; ; wait = Math.min(wait * 2, 4000)) {
    try {
      return await write();
    } catch (err) {
      if (Date.now() + wait > deadline) throw err;
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}
