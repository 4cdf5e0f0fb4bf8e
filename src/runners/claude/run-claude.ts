/**
 * The claude worker: one Claude Code session through the Agent SDK, under our tool boundary and
 * watchdogs. Input envelope in, output envelope out; failures are thrown as typed AppErrors.
 */
import { performance } from 'node:perf_hooks';
import { query, type SDKMessage, type SDKResultMessage } from '@anthropic-ai/claude-agent-sdk';
import { AppError, type ErrorKind } from '../../errors.ts';
import { abortReasonError, type OutputEnvelope, type RunContext, RunnerError } from '../runner.ts';
import type { Semaphore } from './admission.ts';
import { classifyResult, meteredUsage } from './classify-result.ts';
import { type ClaudeProcess, endProcess, type ProcessOptions, prepareProcess } from './claude-process.ts';
import { defuseMentions } from './mentions.ts';
import type { ToolPolicy } from './policy.ts';
import { scrubDir } from './transcripts.ts';
import type { WarmPool } from './warm-pool.ts';

export interface ClaudeInput {
  prompt: string;
  policy: ToolPolicy;
  /** The task's workspace: an absolute, real directory inside a workspace root. */
  cwd: string;
  model?: string;
  max_turns?: number;
  max_budget_usd?: number;
  system_prompt_append?: string;
  output_schema?: Record<string, unknown>;
  /** An empty final response completes instead of failing `empty_response` (classify-result.ts). */
  allow_empty?: boolean;
  /** Wall-clock limit in ms. */
  timeout: number;
  /** Longest silence from the agent in ms. */
  idle_timeout: number;
  /** Claude Code session to resume (a follow-up message). */
  resume?: string;
  /** Per-task CLAUDE_CONFIG_DIR: no state is shared between tasks or read from the server's home. */
  configDir: string;
}

export interface ClaudeRunnerOptions extends ProcessOptions {
  startupTimeout: number;
  onAgentSession?: (agentSessionId: string) => void;
  /** Given a promise that settles once Claude Code and everything it started are gone. */
  onExit?: (exited: Promise<void>) => void;
  /** Limits how many Claude Code processes start at once (admission.ts); held until its init message. */
  startGate?: Semaphore | undefined;
  /** Parked spares a task may claim instead of starting Claude Code (warm-pool.ts). */
  warm?: WarmPool | undefined;
  /** Redacts secrets from what Claude Code wrote into the config dir, once it is gone (transcripts.ts). */
  redact?: ((text: string) => string) | undefined;
}

/** How long Claude Code may take to exit after its result before its process tree is killed. */
const EXIT_GRACE_MS = 5000;

const SYSTEM_PROMPT = 'claude_code';

export async function runClaude(
  request: ClaudeInput,
  ctx: RunContext,
  options: ClaudeRunnerOptions,
): Promise<OutputEnvelope> {
  // Every prompt Claude Code reads passes here (tasks, follow-ups, workflow steps, cold or warm): an `@`
  // in it is text, never a file Claude Code reads by itself (mentions.ts).
  const input: ClaudeInput = {
    ...request,
    prompt: defuseMentions(request.prompt),
    ...(request.system_prompt_append ? { system_prompt_append: defuseMentions(request.system_prompt_append) } : {}),
  };
  // A parked spare when one fits (the same boundary, started ahead); otherwise a process of its own.
  const warm = await options.warm?.claim(input);
  const proc: ClaudeProcess = warm?.proc ?? (await prepareProcess(input, options));
  const { tree, abort, access } = proc;
  let stopKind: ErrorKind | undefined;
  const stop = (kind: ErrorKind) => {
    if (stopKind) return;
    stopKind = kind;
    abort.abort();
    tree.kill();
  };

  const onCallerAbort = () => stop(abortReasonError(ctx.signal, 'task').kind);
  if (ctx.signal.aborted) onCallerAbort();
  ctx.signal.addEventListener('abort', onCallerAbort, { once: true });
  const wallClock = setTimeout(() => stop('timeout'), input.timeout);
  // Armed once the start gate lets the process start: waiting for a start is not a slow start.
  let idle: NodeJS.Timeout | undefined;
  const touch = () => {
    clearTimeout(idle);
    idle = setTimeout(() => stop('idle_timeout'), input.idle_timeout);
  };
  const coldStart = () =>
    query({
      prompt: input.prompt,
      options: {
        ...proc.sdkOptions,
        cwd: input.cwd,
        systemPrompt: { type: 'preset', preset: SYSTEM_PROMPT, append: input.system_prompt_append },
        ...(input.model ? { model: input.model } : {}),
        ...(input.resume ? { resume: input.resume } : {}),
      },
    });

  let result: SDKResultMessage | undefined;
  let lastError: unknown;
  let exitDeadline: NodeJS.Timeout | undefined;
  let resultArrived: () => void = () => {};
  const gotResult = new Promise<void>((resolve) => {
    resultArrived = resolve;
  });
  // The result message is the end of the task. Claude Code then still flushes its transcript and
  // exits, which takes ~50 ms; the caller is answered at once and told when the process is gone.
  const admission = { warm: warm !== undefined, start_wait_ms: 0, startup_ms: 0 };
  let starting = false;
  const started = () => {
    if (!starting) return;
    starting = false;
    options.startGate?.release();
  };
  const exited = (async () => {
    try {
      // A spare has started already: only a cold start waits at the gate.
      const waitFrom = performance.now();
      if (!warm) await options.startGate?.acquire(abort.signal);
      starting = !warm;
      const startFrom = performance.now();
      admission.start_wait_ms = Math.round(startFrom - waitFrom);
      idle = setTimeout(() => stop('startup'), options.startupTimeout);
      for await (const message of (warm?.messages ?? coldStart()) as AsyncIterable<SDKMessage>) {
        if (result) continue; // after the result: nothing more belongs to the task
        touch();
        if (starting) admission.startup_ms = Math.round(performance.now() - startFrom);
        started();
        if (message.type === 'system' && message.subtype === 'init') options.onAgentSession?.(message.session_id);
        ctx.emit({ type: message.type, data: message });
        if (message.type === 'result') {
          result = message;
          clearTimeout(wallClock);
          clearTimeout(idle);
          exitDeadline = setTimeout(() => tree.kill(), EXIT_GRACE_MS);
          access?.release(); // the task is over: its model token is too
          resultArrived();
        }
      }
    } catch (err) {
      lastError = err;
    } finally {
      started();
      clearTimeout(wallClock);
      clearTimeout(idle);
      clearTimeout(exitDeadline);
      ctx.signal.removeEventListener('abort', onCallerAbort);
      // The agent may leave children behind (a backgrounded Bash command): end the whole tree.
      await endProcess(proc);
      if (options.redact) await scrubDir(input.configDir, options.redact).catch(() => undefined);
    }
  })();
  options.onExit?.(exited);
  await Promise.race([gotResult, exited]);

  const metered = access?.usage();
  // A task stopped early still spent what the proxy metered: the failure carries it.
  const spent = (error: AppError) =>
    metered?.calls ? RunnerError.carrying(error, { response: '', usage: meteredUsage(metered) }) : error;
  if (stopKind) throw spent(new AppError(stopKind, stopMessage(stopKind, input, options)));
  if (!result) {
    throw spent(
      new AppError('startup', `Claude Code ended without a result: ${(lastError as Error)?.message ?? 'no output'}`, {
        cause: lastError,
      }),
    );
  }
  const envelope = classifyResult(result, [...proc.filesChanged], metered, { allowEmpty: input.allow_empty });
  // Where the task's time went before the agent ran: waiting for a start, then Claude Code starting.
  envelope.detail = { ...envelope.detail, admission };
  return envelope;
}

function stopMessage(kind: ErrorKind, input: ClaudeInput, options: ClaudeRunnerOptions): string {
  switch (kind) {
    case 'timeout':
      return `task exceeded its timeout of ${input.timeout} ms`;
    case 'idle_timeout':
      return `the agent was silent for more than ${input.idle_timeout} ms`;
    case 'startup':
      return `Claude Code did not start within ${options.startupTimeout} ms`;
    default:
      return 'task was cancelled';
  }
}
