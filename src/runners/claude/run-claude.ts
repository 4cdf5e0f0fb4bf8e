/**
 * The claude worker: one Claude Code session through the Agent SDK, under our tool boundary and
 * watchdogs. Input envelope in, output envelope out; failures are thrown as typed AppErrors.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { type Options, query, type SDKMessage, type SDKResultMessage } from '@anthropic-ai/claude-agent-sdk';
import { AppError, type ErrorKind } from '../../errors.ts';
import type { ModelAccess, TaskLimits } from '../../model/model-proxy.ts';
import { abortReasonError, type OutputEnvelope, type RunContext, RunnerError } from '../runner.ts';
import { type AllowList, emptyAllowList } from '../ssrf.ts';
import type { Semaphore } from './admission.ts';
import { bashEnv } from './bash-env.ts';
import { classifyResult, meteredUsage } from './classify-result.ts';
import { EgressProxy } from './egress-proxy.ts';
import { decideToolCall } from './gate.ts';
import type { ToolPolicy } from './policy.ts';
import { ProcessTree } from './process-tree.ts';
import { type SandboxHost, sandboxArgv, sandboxEnv } from './sandbox.ts';

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
  /** Wall-clock limit in ms. */
  timeout: number;
  /** Longest silence from the agent in ms. */
  idle_timeout: number;
  /** Claude Code session to resume (a follow-up message). */
  resume?: string;
  /** Per-task CLAUDE_CONFIG_DIR: no state is shared between tasks or read from the server's home. */
  configDir: string;
}

export interface ClaudeRunnerOptions {
  /** Model endpoint, credentials and proxies: the only server variables Claude Code sees. */
  passThroughEnv: Record<string, string>;
  /**
   * Per-task model credentials (the loopback model proxy). When given, the real ANTHROPIC_* values
   * never enter the agent's environment, where its Bash tool could read them.
   */
  modelAccess?: (limits: TaskLimits) => ModelAccess;
  startupTimeout: number;
  /** The server's data dir: marks the task's processes so a restart after a crash can find them. */
  owner: string;
  /** Read settings, hooks, CLAUDE.md and .mcp.json from the workspace (operator opt-in). */
  projectSettings: boolean;
  /** Internal hosts and networks WebFetch may reach (`SWITCHYARD_HTTP_ALLOW`); none when omitted. */
  httpAllow?: AllowList;
  claudePath?: string;
  /** Run Claude Code under bubblewrap (sandbox.ts); absent when the sandbox is off or unavailable. */
  sandbox?: SandboxHost | undefined;
  onAgentSession?: (agentSessionId: string) => void;
  /** Given a promise that settles once Claude Code and everything it started are gone. */
  onExit?: (exited: Promise<void>) => void;
  /** Limits how many Claude Code processes start at once (admission.ts); held until its init message. */
  startGate?: Semaphore | undefined;
}

/** How long Claude Code may take to exit after its result before its process tree is killed. */
const EXIT_GRACE_MS = 5000;

const WRITE_TOOLS = new Set(['Edit', 'Write', 'MultiEdit', 'NotebookEdit']);
/** Tools that can change the workspace: without one, the sandbox binds it read-only. */
const WRITING_TOOLS = new Set([...WRITE_TOOLS, 'Bash']);

const MODEL_VARS = ['ANTHROPIC_BASE_URL', 'ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN'];

function childEnv(
  input: ClaudeInput,
  options: ClaudeRunnerOptions,
  access: ModelAccess | undefined,
): Record<string, string> {
  const passed = { ...options.passThroughEnv };
  if (access) for (const name of MODEL_VARS) delete passed[name];
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    LANG: process.env.LANG ?? 'C.UTF-8',
    HOME: input.configDir,
    CLAUDE_CONFIG_DIR: input.configDir,
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_AUTOUPDATER: '1',
    DISABLE_TELEMETRY: '1',
    DISABLE_ERROR_REPORTING: '1',
    // Retries belong to the caller (the workflow engine's policy), so a model error surfaces quickly.
    CLAUDE_CODE_MAX_RETRIES: '0',
    // Claude Code reads `@path` mentions itself, before any tool call the gate could see (measured).
    CLAUDE_CODE_DISABLE_FILE_MENTIONS: '1',
    // Bash calls start in the cwd; git ignores settings that would run programs (bash-env.ts).
    ...bashEnv(input.cwd),
    ...passed,
    ...access?.env,
  };
}

export async function runClaude(
  input: ClaudeInput,
  ctx: RunContext,
  options: ClaudeRunnerOptions,
): Promise<OutputEnvelope> {
  fs.mkdirSync(input.configDir, { recursive: true, mode: 0o700 });
  const sandbox = options.sandbox;
  const mark = randomUUID();
  // In the sandbox, the web is reachable only through this task's egress proxy, and only with WebFetch.
  const egress =
    sandbox && input.policy.tools.includes('WebFetch')
      ? await EgressProxy.start(path.join(path.dirname(sandbox.modelSocket), `e-${mark.slice(0, 8)}.sock`), {
          rules: input.policy.rules,
          httpAllow: options.httpAllow ?? emptyAllowList(),
        })
      : undefined;
  const tree = new ProcessTree(
    options.owner,
    sandbox &&
      ((command, args) => ({
        command: 'bwrap',
        args: sandboxArgv(
          {
            workspace: input.cwd,
            configDir: input.configDir,
            executables: [command, args[0] ?? ''].filter((file) => path.isAbsolute(file) && fs.existsSync(file)),
            writable: input.policy.tools.some((tool) => WRITING_TOOLS.has(tool)),
            egressSocket: egress?.socketPath,
          },
          sandbox,
          command,
          args,
        ),
      })),
    mark,
  );
  const abort = new AbortController();
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

  // The proxy holds every call made with the task's token to the task's limits, and meters them.
  const access = options.modelAccess?.({
    maxTurns: input.max_turns,
    maxBudgetUsd: input.max_budget_usd,
    model: input.model,
  });
  const gate = (toolName: string, toolInput: unknown) =>
    toolInput !== null && typeof toolInput === 'object' && !Array.isArray(toolInput)
      ? decideToolCall(input.policy, input.cwd, toolName, toolInput as Record<string, unknown>, {
          httpAllow: options.httpAllow,
        })
      : Promise.resolve({ allow: false, reason: `${toolName.slice(0, 100)} needs an object input.` } as const);
  const filesChanged = new Set<string>();
  const sdkOptions: Options = {
    cwd: input.cwd,
    tools: input.policy.tools,
    allowedTools: [],
    permissionMode: 'default',
    settingSources: options.projectSettings ? ['project', 'local'] : [],
    // WebFetch first asks claude.ai whether a domain is safe; from the sandbox only the allowed domains
    // are reachable, and the rules plus the SSRF guard are the policy.
    ...(egress ? { settings: { skipWebFetchPreflight: true } } : {}),
    env: sandbox
      ? sandboxEnv(childEnv(input, options, access), egress !== undefined)
      : childEnv(input, options, access),
    abortController: abort,
    spawnClaudeCodeProcess: tree.spawn,
    // Claude Code pre-approves read-only tools (Read, Glob, Grep) inside its cwd without asking
    // canUseTool (measured), which would skip a rule's scope; a PreToolUse hook sees every call.
    hooks: {
      PreToolUse: [
        {
          onFailure: 'block',
          hooks: [
            async (hookInput) => {
              if (hookInput.hook_event_name !== 'PreToolUse') return {};
              // Claude Code's own tool that carries the output_schema answer; it touches nothing.
              if (input.output_schema && hookInput.tool_name === 'StructuredOutput') return {};
              const decision = await gate(hookInput.tool_name, hookInput.tool_input);
              if (decision.allow) return {};
              return {
                hookSpecificOutput: {
                  hookEventName: 'PreToolUse',
                  permissionDecision: 'deny',
                  permissionDecisionReason: decision.reason,
                },
              };
            },
          ],
        },
      ],
    },
    canUseTool: async (toolName, toolInput) => {
      const decision = await gate(toolName, toolInput);
      if (!decision.allow) return { behavior: 'deny', message: decision.reason };
      if (WRITE_TOOLS.has(toolName)) {
        const file = toolInput.file_path ?? toolInput.notebook_path;
        if (typeof file === 'string') filesChanged.add(file);
      }
      return { behavior: 'allow', updatedInput: toolInput };
    },
    systemPrompt: { type: 'preset', preset: 'claude_code', append: input.system_prompt_append },
  };
  if (input.model) sdkOptions.model = input.model;
  if (input.max_turns) sdkOptions.maxTurns = input.max_turns;
  if (input.max_budget_usd) sdkOptions.maxBudgetUsd = input.max_budget_usd;
  if (input.output_schema) sdkOptions.outputFormat = { type: 'json_schema', schema: input.output_schema };
  if (input.resume) sdkOptions.resume = input.resume;
  if (options.claudePath) sdkOptions.pathToClaudeCodeExecutable = options.claudePath;

  let result: SDKResultMessage | undefined;
  let lastError: unknown;
  let exitDeadline: NodeJS.Timeout | undefined;
  let resultArrived: () => void = () => {};
  const gotResult = new Promise<void>((resolve) => {
    resultArrived = resolve;
  });
  // The result message is the end of the task. Claude Code then still flushes its transcript and
  // exits, which takes ~50 ms; the caller is answered at once and told when the process is gone.
  const admission = { start_wait_ms: 0, startup_ms: 0 };
  let starting = false;
  const started = () => {
    if (!starting) return;
    starting = false;
    options.startGate?.release();
  };
  const exited = (async () => {
    try {
      const waitFrom = performance.now();
      await options.startGate?.acquire(abort.signal);
      starting = true;
      const startFrom = performance.now();
      admission.start_wait_ms = Math.round(startFrom - waitFrom);
      idle = setTimeout(() => stop('startup'), options.startupTimeout);
      for await (const message of query({ prompt: input.prompt, options: sdkOptions }) as AsyncIterable<SDKMessage>) {
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
      access?.release();
      // The agent may leave children behind (a backgrounded Bash command): end the whole tree.
      tree.kill();
      await egress?.close();
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
  const envelope = classifyResult(result, [...filesChanged], metered);
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
