/**
 * Configuration is a pure function of the environment and command-line flags, checked once at start.
 * Every flag has an environment twin (`--port` ↔ SWITCHYARD_PORT); errors name the variable.
 */
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { AppError } from './errors.ts';
import { parsePools } from './workflow/pools.ts';

/** Claude Code takes about this much memory per running task on this class of machine (measured). */
const MEMORY_PER_TASK = 250 * 1024 * 1024;

const list = (sep: string) =>
  z
    .string()
    .optional()
    .transform((v) =>
      (v ?? '')
        .split(sep)
        .map((s) => s.trim())
        .filter(Boolean),
    );

const bool = z
  .enum(['1', '0', 'true', 'false', 'yes', 'no', ''])
  .optional()
  .transform((v) => v === '1' || v === 'true' || v === 'yes');

const int = (min: number, max: number, unit = '') =>
  z.coerce
    .number({ error: `must be an integer between ${min} and ${max}${unit}` })
    .int({ error: `must be an integer between ${min} and ${max}${unit}` })
    .min(min, { error: `must be an integer between ${min} and ${max}${unit}` })
    .max(max, { error: `must be an integer between ${min} and ${max}${unit}` });

const schema = z.object({
  SWITCHYARD_HOST: z.string().min(1).default('127.0.0.1'),
  SWITCHYARD_PORT: int(0, 65535).default(7847),
  SWITCHYARD_DATA_DIR: z.string().min(1).default('./data'),
  SWITCHYARD_WORKSPACE_ROOTS: list(':'),
  SWITCHYARD_API_KEYS: list(','),
  SWITCHYARD_CONCURRENCY: int(1, 256).optional(),
  SWITCHYARD_QUEUE_LIMIT: int(1, 10_000_000).default(10_000),
  SWITCHYARD_MAX_PROMPT_BYTES: int(1, 100 * 1024 * 1024).default(1024 * 1024),
  /** The largest output one workflow step (or for_each item, or fan-in) may keep. */
  SWITCHYARD_MAX_STEP_OUTPUT_BYTES: int(1024, 256 * 1024 * 1024, ' (bytes)').default(10 * 1024 * 1024),
  /** The most a run's step outputs may total: what templates and the DLQ carry around. */
  SWITCHYARD_MAX_RUN_CONTEXT_BYTES: int(1024, 256 * 1024 * 1024, ' (bytes)').default(64 * 1024 * 1024),
  /** The time one workflow step's template renders may take in all (every attempt and for_each item). */
  SWITCHYARD_STEP_RENDER_BUDGET: int(10, 3_600_000, ' (ms)').default(30_000),
  SWITCHYARD_DEFAULT_TIMEOUT: int(1000, 86_400_000, ' (ms)').default(600_000),
  SWITCHYARD_MAX_TIMEOUT: int(1000, 86_400_000, ' (ms)').default(86_400_000),
  SWITCHYARD_STARTUP_TIMEOUT: int(1000, 3_600_000, ' (ms)').default(60_000),
  SWITCHYARD_IDLE_TIMEOUT: int(1000, 86_400_000, ' (ms)').default(600_000),
  /** The most any client may ask for, as allowed_tools rules: "Read,Glob,Grep,Edit(docs/**)". */
  SWITCHYARD_TOOL_CAP: list(','),
  /** Let Claude Code read settings, hooks, CLAUDE.md and .mcp.json from the workspace. Off by default. */
  SWITCHYARD_PROJECT_SETTINGS: bool,
  SWITCHYARD_WEBHOOK_SECRET: z.string().optional(),
  SWITCHYARD_HTTP_ALLOW: z.string().optional(),
  SWITCHYARD_WORKFLOWS_DIR: z.string().optional(),
  /** Workflow pool capacities that override the defaults and definitions: "llm=2,http=32". */
  SWITCHYARD_POOLS: z.string().optional(),
  SWITCHYARD_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Run against the built-in scripted model: a demo that needs no API key and no network. */
  SWITCHYARD_DEMO: bool,
  SWITCHYARD_CLAUDE_PATH: z.string().optional(),
});

export interface Config {
  host: string;
  port: number;
  dataDir: string;
  workspaceRoots: string[];
  apiKeys: string[];
  concurrency: number;
  queueLimit: number;
  maxPromptBytes: number;
  maxStepOutputBytes: number;
  maxRunContextBytes: number;
  stepRenderBudget: number;
  defaultTimeout: number;
  maxTimeout: number;
  startupTimeout: number;
  idleTimeout: number;
  toolCap: string[] | undefined;
  projectSettings: boolean;
  webhookSecret: string | undefined;
  httpAllow: string | undefined;
  workflowsDir: string | undefined;
  /** SWITCHYARD_POOLS: pool name → capacity, set by the operator. */
  pools: Record<string, number>;
  logLevel: string;
  demo: boolean;
  claudePath: string | undefined;
  /** The variables passed through to Claude Code (model endpoint, credentials, proxies). */
  passThroughEnv: Record<string, string>;
}

/** Variables of the server's environment that Claude Code may see; nothing else is passed. */
const PASS_THROUGH = [
  'ANTHROPIC_BASE_URL',
  'ANTHROPIC_API_KEY',
  'ANTHROPIC_AUTH_TOKEN',
  'HTTPS_PROXY',
  'HTTP_PROXY',
  'NO_PROXY',
  'https_proxy',
  'http_proxy',
  'no_proxy',
];

/** Turns `--data-dir x` / `--data-dir=x` style flags into their SWITCHYARD_* twins. */
export function flagsToEnv(flags: Record<string, string | boolean>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(flags)) {
    env[`SWITCHYARD_${name.replaceAll('-', '_').toUpperCase()}`] = String(value);
  }
  return env;
}

export function defaultConcurrency(freeBytes = os.freemem(), cores = os.availableParallelism()): number {
  return Math.max(1, Math.min(Math.floor(freeBytes / MEMORY_PER_TASK), cores * 4, 64));
}

export function loadConfig(
  env: Record<string, string | undefined> = process.env,
  flags: Record<string, string | boolean> = {},
  cwd = process.cwd(),
): Config {
  const merged = { ...env, ...flagsToEnv(flags) };
  const parsed = schema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0] ?? 'config');
    throw new AppError('validation', `${name} ${issue.message}`, { field: name });
  }
  const c = parsed.data;
  const apiKeys = c.SWITCHYARD_API_KEYS;
  for (const key of apiKeys) {
    if (key.length < 16) {
      throw new AppError('validation', 'SWITCHYARD_API_KEYS entries must be at least 16 characters', {
        field: 'SWITCHYARD_API_KEYS',
      });
    }
  }
  if (!isLoopback(c.SWITCHYARD_HOST) && apiKeys.length === 0) {
    throw new AppError(
      'validation',
      `SWITCHYARD_HOST ${c.SWITCHYARD_HOST} is not a loopback address: set SWITCHYARD_API_KEYS before exposing the server`,
      { field: 'SWITCHYARD_HOST' },
    );
  }
  const passThroughEnv: Record<string, string> = {};
  for (const name of PASS_THROUGH) {
    const value = env[name];
    if (value !== undefined && value !== '') passThroughEnv[name] = value;
  }
  let pools: Record<string, number>;
  try {
    pools = parsePools(c.SWITCHYARD_POOLS);
  } catch (err) {
    throw new AppError('validation', `SWITCHYARD_POOLS ${(err as Error).message}`, { field: 'SWITCHYARD_POOLS' });
  }
  const roots = c.SWITCHYARD_WORKSPACE_ROOTS.length > 0 ? c.SWITCHYARD_WORKSPACE_ROOTS : [cwd];
  return {
    host: c.SWITCHYARD_HOST,
    port: c.SWITCHYARD_PORT,
    dataDir: path.resolve(cwd, c.SWITCHYARD_DATA_DIR),
    workspaceRoots: roots.map((r) => path.resolve(cwd, r)),
    apiKeys,
    concurrency: c.SWITCHYARD_CONCURRENCY ?? defaultConcurrency(),
    queueLimit: c.SWITCHYARD_QUEUE_LIMIT,
    maxPromptBytes: c.SWITCHYARD_MAX_PROMPT_BYTES,
    maxStepOutputBytes: c.SWITCHYARD_MAX_STEP_OUTPUT_BYTES,
    maxRunContextBytes: c.SWITCHYARD_MAX_RUN_CONTEXT_BYTES,
    stepRenderBudget: c.SWITCHYARD_STEP_RENDER_BUDGET,
    defaultTimeout: c.SWITCHYARD_DEFAULT_TIMEOUT,
    maxTimeout: c.SWITCHYARD_MAX_TIMEOUT,
    startupTimeout: c.SWITCHYARD_STARTUP_TIMEOUT,
    idleTimeout: c.SWITCHYARD_IDLE_TIMEOUT,
    toolCap: c.SWITCHYARD_TOOL_CAP.length > 0 ? c.SWITCHYARD_TOOL_CAP : undefined,
    projectSettings: c.SWITCHYARD_PROJECT_SETTINGS,
    webhookSecret: c.SWITCHYARD_WEBHOOK_SECRET,
    httpAllow: c.SWITCHYARD_HTTP_ALLOW,
    workflowsDir: c.SWITCHYARD_WORKFLOWS_DIR ? path.resolve(cwd, c.SWITCHYARD_WORKFLOWS_DIR) : undefined,
    pools,
    logLevel: c.SWITCHYARD_LOG_LEVEL,
    demo: c.SWITCHYARD_DEMO,
    claudePath: c.SWITCHYARD_CLAUDE_PATH,
    passThroughEnv,
  };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
