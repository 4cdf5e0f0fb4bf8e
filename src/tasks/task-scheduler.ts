/**
 * Runs queued tasks, as many at once as there are free Claude Code slots, oldest first. Every transition is written to the
 * Store before anyone is told about it; a crash between two writes leaves a state that recovery
 * (Store.recoverInterrupted) turns into `interrupted` or a requeue.
 */
import path from 'node:path';
import { toErrorInfo } from '../errors.ts';
import type { Semaphore } from '../runners/claude/admission.ts';
import type { ToolPolicy } from '../runners/claude/policy.ts';
import type { ClaudeInput } from '../runners/claude/run-claude.ts';
import type { SandboxStatus } from '../runners/claude/sandbox.ts';
import { type OutputEnvelope, type RunContext, RunnerError } from '../runners/runner.ts';
import type { Redactor } from '../secrets/redactor.ts';
import type { Store, TaskEvent, TaskFinish, TaskRecord } from '../store/store.ts';
import type { NormalizedRequest } from './request.ts';
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
}

export class TaskScheduler {
  readonly #deps: SchedulerDeps;
  /** Every run holding a slot, until its process is gone: what admission and drain count. */
  readonly #active = new Set<AbortController>();
  /**
   * The run a cancel of the task reaches, until its outcome is durable. A run whose process is still
   * exiting is not in here, so a cancel finds the task's queued or running follow-up instead.
   */
  readonly #running = new Map<string, AbortController>();
  /** Per task, the exit of its last Claude Code process: a follow-up must not resume before it. */
  readonly #exiting = new Map<string, Promise<void>>();
  #pumping = false;
  #again = false;
  #stopped = false;
  /** Told of every claim, so the service's queued count stays exact without a COUNT query. */
  onClaimed: () => void = () => {};

  constructor(deps: SchedulerDeps) {
    this.#deps = deps;
    deps.slots.onFree(() => this.wake());
  }

  get runningCount(): number {
    return this.#active.size;
  }

  /** Starts as many queued tasks as there are free slots. Cheap to call often. */
  wake(): void {
    if (this.#stopped) return;
    if (this.#pumping) {
      this.#again = true;
      return;
    }
    this.#pumping = true;
    void this.#pump().finally(() => {
      this.#pumping = false;
      if (this.#again) {
        this.#again = false;
        this.wake();
      }
    });
  }

  async #pump(): Promise<void> {
    const { slots } = this.#deps;
    while (!this.#stopped && slots.tryAcquire()) {
      let task: TaskRecord | undefined;
      try {
        task = await this.#deps.store.claimNextTask(new Date().toISOString());
      } finally {
        if (!task) slots.release();
      }
      if (!task) return;
      this.onClaimed();
      const controller = new AbortController();
      this.#active.add(controller);
      this.#running.set(task.id, controller);
      void this.#run(task, controller).finally(() => {
        this.#active.delete(controller);
        this.#forget(task.id, controller);
        slots.release();
        this.wake();
      });
    }
  }

  /** Aborts a running task; returns false if it is not running here. */
  cancel(taskId: string): boolean {
    const controller = this.#running.get(taskId);
    if (!controller) return false;
    controller.abort('cancel');
    return true;
  }

  /** Stops taking work, waits up to `graceMs` for running tasks, then kills what is left. */
  async drain(graceMs: number): Promise<void> {
    this.#stopped = true;
    const deadline = Date.now() + graceMs;
    while (this.#active.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    // Killed tasks stay `running` in the Store; the next start records them as interrupted.
    for (const controller of this.#active) controller.abort('shutdown');
    while (this.#active.size > 0) await new Promise((r) => setTimeout(r, 20));
  }

  #forget(taskId: string, controller: AbortController): void {
    if (this.#running.get(taskId) === controller) this.#running.delete(taskId);
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
        store.appendEvents([event]).then((saved: TaskEvent[]) => notifier.publishEvents(saved)),
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
    try {
      const out = await this.#deps.runClaude(input, ctx, {
        onAgentSession: (id) => void store.setAgentSession(task.id, id),
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
    await pendingEvents.catch(() => undefined);
    if (controller.signal.reason !== 'shutdown') await this.#finish(task, finish, () => pendingEvents);
    this.#forget(task.id, controller);
    // The slot stays taken until the process is gone, so admission by memory stays honest.
    await exited;
  }

  async #finish(task: TaskRecord, finish: TaskFinish, pending: () => Promise<unknown>): Promise<void> {
    const { store, notifier } = this.#deps;
    if (!(await store.finishTask(task.id, this.#deps.redactor.value(finish), new Date().toISOString()))) return;
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
