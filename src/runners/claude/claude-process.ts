/**
 * Everything a Claude Code process is fixed to when it is spawned: its sandbox (workspace, config dir,
 * egress), its environment and model token, its tools and the gate every tool call passes. A task's
 * process is prepared either when the task starts (cold) or ahead of it, as a warm spare
 * (warm-pool.ts); both are the same object, so the warm path runs under exactly the cold boundary.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Options } from '@anthropic-ai/claude-agent-sdk';
import type { ModelAccess, TaskLimits } from '../../model/model-proxy.ts';
import { type AllowList, emptyAllowList } from '../ssrf.ts';
import { bashEnv } from './bash-env.ts';
import { EgressProxy } from './egress-proxy.ts';
import { decideToolCall } from './gate.ts';
import type { ToolPolicy } from './policy.ts';
import { ProcessTree } from './process-tree.ts';
import { type SandboxHost, sandboxArgv, sandboxEnv } from './sandbox.ts';

/** What a process is started with and cannot change afterwards. */
export interface ProcessSpec {
  policy: ToolPolicy;
  /** The workspace: an absolute, real directory inside a workspace root. */
  cwd: string;
  /** Its own CLAUDE_CONFIG_DIR (and HOME): no state shared with another process. */
  configDir: string;
  model?: string | undefined;
  max_turns?: number | undefined;
  max_budget_usd?: number | undefined;
  output_schema?: Record<string, unknown> | undefined;
}

export interface ProcessOptions {
  /** Model endpoint, credentials and proxies: the only server variables Claude Code sees. */
  passThroughEnv: Record<string, string>;
  /**
   * Per-task model credentials (the loopback model proxy). When given, the real ANTHROPIC_* values
   * never enter the agent's environment, where its Bash tool could read them.
   */
  modelAccess?: (limits: TaskLimits) => ModelAccess;
  /** The server's data dir: marks the task's processes so a restart after a crash can find them. */
  owner: string;
  /** Read settings, hooks, CLAUDE.md and .mcp.json from the workspace (operator opt-in). */
  projectSettings: boolean;
  /** Internal hosts and networks WebFetch may reach (`SWITCHYARD_HTTP_ALLOW`); none when omitted. */
  httpAllow?: AllowList;
  claudePath?: string;
  /** Run Claude Code under bubblewrap (sandbox.ts); absent when the sandbox is off or unavailable. */
  sandbox?: SandboxHost | undefined;
}

/** One prepared process: its SDK options and the things to end with it. */
export interface ClaudeProcess {
  /** The SDK options fixed at spawn (no prompt, no per-session fields). */
  sdkOptions: Options;
  tree: ProcessTree;
  /** Aborting it makes the SDK end the process. */
  abort: AbortController;
  access: ModelAccess | undefined;
  egress: EgressProxy | undefined;
  /** Files the agent's allowed write tools touched. */
  filesChanged: Set<string>;
}

const WRITE_TOOLS = new Set(['Edit', 'Write', 'MultiEdit', 'NotebookEdit']);
/** Tools that can change the workspace: without one, the sandbox binds it read-only. */
const WRITING_TOOLS = new Set([...WRITE_TOOLS, 'Bash']);

const MODEL_VARS = ['ANTHROPIC_BASE_URL', 'ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN'];

function childEnv(spec: ProcessSpec, options: ProcessOptions, access: ModelAccess | undefined): Record<string, string> {
  const passed = { ...options.passThroughEnv };
  if (access) for (const name of MODEL_VARS) delete passed[name];
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    LANG: process.env.LANG ?? 'C.UTF-8',
    HOME: spec.configDir,
    CLAUDE_CONFIG_DIR: spec.configDir,
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_AUTOUPDATER: '1',
    DISABLE_TELEMETRY: '1',
    DISABLE_ERROR_REPORTING: '1',
    // Retries belong to the caller (the workflow engine's policy), so a model error surfaces quickly.
    CLAUDE_CODE_MAX_RETRIES: '0',
    // Claude Code reads `@path` mentions itself, before any tool call the gate could see (measured).
    CLAUDE_CODE_DISABLE_FILE_MENTIONS: '1',
    // git ignores system and user config, hooks and fsmonitor; Bash calls start in the cwd (bash-env.ts).
    ...bashEnv(spec.cwd),
    ...passed,
    ...access?.env,
  };
}

export async function prepareProcess(spec: ProcessSpec, options: ProcessOptions): Promise<ClaudeProcess> {
  fs.mkdirSync(spec.configDir, { recursive: true, mode: 0o700 });
  const sandbox = options.sandbox;
  const mark = randomUUID();
  // In the sandbox, the web is reachable only through this process's egress proxy, and only with WebFetch.
  const egress =
    sandbox && spec.policy.tools.includes('WebFetch')
      ? await EgressProxy.start(path.join(path.dirname(sandbox.modelSocket), `e-${mark.slice(0, 8)}.sock`), {
          rules: spec.policy.rules,
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
            workspace: spec.cwd,
            configDir: spec.configDir,
            executables: [command, args[0] ?? ''].filter((file) => path.isAbsolute(file) && fs.existsSync(file)),
            writable: spec.policy.tools.some((tool) => WRITING_TOOLS.has(tool)),
            egressSocket: egress?.socketPath,
          },
          sandbox,
          command,
          args,
        ),
      })),
    mark,
  );
  // The proxy holds every call made with this process's token to the task's limits, and meters them.
  const access = options.modelAccess?.({
    maxTurns: spec.max_turns,
    maxBudgetUsd: spec.max_budget_usd,
    model: spec.model,
  });
  const gate = (toolName: string, toolInput: unknown) =>
    toolInput !== null && typeof toolInput === 'object' && !Array.isArray(toolInput)
      ? decideToolCall(spec.policy, spec.cwd, toolName, toolInput as Record<string, unknown>, {
          httpAllow: options.httpAllow,
        })
      : Promise.resolve({ allow: false, reason: `${toolName.slice(0, 100)} needs an object input.` } as const);
  const filesChanged = new Set<string>();
  const abort = new AbortController();
  const sdkOptions: Options = {
    tools: spec.policy.tools,
    allowedTools: [],
    permissionMode: 'default',
    settingSources: options.projectSettings ? ['project', 'local'] : [],
    // WebFetch first asks claude.ai whether a domain is safe; from the sandbox only the allowed domains
    // are reachable, and the rules plus the SSRF guard are the policy.
    ...(egress ? { settings: { skipWebFetchPreflight: true } } : {}),
    env: sandbox ? sandboxEnv(childEnv(spec, options, access), egress !== undefined) : childEnv(spec, options, access),
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
              if (spec.output_schema && hookInput.tool_name === 'StructuredOutput') return {};
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
  };
  if (spec.max_turns) sdkOptions.maxTurns = spec.max_turns;
  if (spec.max_budget_usd) sdkOptions.maxBudgetUsd = spec.max_budget_usd;
  if (spec.output_schema) sdkOptions.outputFormat = { type: 'json_schema', schema: spec.output_schema };
  if (options.claudePath) sdkOptions.pathToClaudeCodeExecutable = options.claudePath;
  return { sdkOptions, tree, abort, access, egress, filesChanged };
}

/** Ends the process and everything it started, and what was set up for it. */
export async function endProcess(proc: ClaudeProcess): Promise<void> {
  proc.access?.release();
  proc.tree.kill();
  await proc.egress?.close();
}
