/**
 * Configuration is a pure function of the environment and command-line flags, checked once at start.
 * Every flag has an environment twin (`--port` ↔ SWITCHYARD_PORT); errors name the variable.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { AppError } from './errors.ts';
import { type LlmDefaults, llmDefaultsFromEnv } from './llm-defaults.ts';
import { isWithin, overlaps, realPathOf } from './paths.ts';
import { SecretStore } from './secrets/secret-store.ts';

/** The directory holding Switchyard's own package.json and src/: never a place a task may write. */
export const INSTALL_DIR = path.resolve(import.meta.dirname, '..');

/** What a task must never reach: the server's code (it would run next start) and its dependencies. */
const INSTALL_CODE = ['package.json', 'package-lock.json', 'src', 'bin', 'node_modules', '.git'];

/**
 * True when a real path is Switchyard's install directory, contains it, or overlaps its code. A
 * directory beside the code inside the install (the default `./workspace`) is not.
 */
export function overlapsInstall(real: string): boolean {
  return (
    isWithin(real, realPathOf(INSTALL_DIR)) ||
    INSTALL_CODE.some((name) => overlaps(real, realPathOf(path.join(INSTALL_DIR, name))))
  );
}

/** The default workspace root, relative to the start directory: a dedicated folder, created at start. */
export const DEFAULT_WORKSPACE = './workspace';

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
  /** State in PostgreSQL instead of SQLite: postgres://user:password@host:5432/db. Never logged. */
  SWITCHYARD_DATABASE_URL: z
    .string()
    .optional()
    .transform((v) => (v === '' ? undefined : v))
    .refine((v) => v === undefined || isPostgresUrl(v), { error: 'must be a postgres:// or postgresql:// URL' }),
  SWITCHYARD_WORKSPACE_ROOTS: list(':'),
  SWITCHYARD_API_KEYS: list(','),
  SWITCHYARD_CONCURRENCY: int(1, 256).optional(),
  /** Warm Claude Code spares parked ahead of tasks (0 turns them off); default from free memory. */
  SWITCHYARD_WARM: int(0, 64).optional(),
  /** A spare unclaimed this long is retired (ms). */
  SWITCHYARD_WARM_IDLE: int(1000, 86_400_000, ' (ms)').default(300_000),
  /** Claude Code processes starting at once (each start costs ~1.5 CPU-s); default: one per core. */
  SWITCHYARD_CONCURRENT_STARTS: int(1, 256).optional(),
  SWITCHYARD_QUEUE_LIMIT: int(1, 10_000_000).default(10_000),
  SWITCHYARD_MAX_PROMPT_BYTES: int(1, 100 * 1024 * 1024).default(1024 * 1024),
  /** The largest inbound webhook body (POST /v1/hooks/{name}); GitHub sends at most 25 MB. */
  SWITCHYARD_MAX_HOOK_BODY_BYTES: int(1024, 100 * 1024 * 1024, ' (bytes)').default(5 * 1024 * 1024),
  /** The largest output one workflow step (or for_each item, or fan-in) may keep. */
  SWITCHYARD_MAX_STEP_OUTPUT_BYTES: int(1024, 256 * 1024 * 1024, ' (bytes)').default(10 * 1024 * 1024),
  /** The most a run's step outputs may total: what templates and the DLQ carry around. */
  SWITCHYARD_MAX_RUN_CONTEXT_BYTES: int(1024, 256 * 1024 * 1024, ' (bytes)').default(64 * 1024 * 1024),
  /** The largest Claude Code session transcript kept in the database for a follow-up on another worker. */
  SWITCHYARD_MAX_TRANSCRIPT_BYTES: int(1024, 256 * 1024 * 1024, ' (bytes)').default(20 * 1024 * 1024),
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
  /** bubblewrap around every Claude Code process: where it works (auto), always (required), or never. */
  SWITCHYARD_SANDBOX: z.enum(['auto', 'required', 'off'], { error: 'must be auto, required or off' }).default('auto'),
  /** What this process does (docs/cluster.md): api (HTTP, no Claude Code), worker (runs jobs), or all. */
  SWITCHYARD_ROLE: z.enum(['api', 'worker', 'all'], { error: 'must be api, worker or all' }).default('all'),
  /** PostgreSQL: a worker not heard of for this long has its jobs delivered again (pg-boss heartbeat, >= 10). */
  SWITCHYARD_LEASE_SECONDS: int(10, 3600, ' (s)').default(20),
  /** PostgreSQL: a task queued this long with no worker on it has its job sent again (a crash between the two writes). */
  SWITCHYARD_RECONCILE_SECONDS: int(1, 3600, ' (s)').default(15),
  /**
   * PostgreSQL: workflow runs one worker drives at once. Each is a pg-boss polling loop, and every new
   * job wakes every loop on every worker (measured: 32 per worker halved runs/s with four workers).
   */
  SWITCHYARD_RUNS_PER_WORKER: int(1, 1000, '').default(8),
  /** On SIGTERM, how long running tasks get to finish before they are stopped and handed back. */
  SWITCHYARD_DRAIN_SECONDS: int(0, 86_400, ' (s)').default(30),
});

export type Role = 'api' | 'worker' | 'all';

export interface Config {
  host: string;
  port: number;
  dataDir: string;
  /** SWITCHYARD_DATABASE_URL: PostgreSQL holds the state when set (the data dir still holds transcripts). */
  databaseUrl: string | undefined;
  workspaceRoots: string[];
  apiKeys: string[];
  concurrency: number;
  concurrentStarts: number;
  warm: number;
  warmIdle: number;
  queueLimit: number;
  maxPromptBytes: number;
  maxHookBodyBytes: number;
  maxStepOutputBytes: number;
  maxRunContextBytes: number;
  maxTranscriptBytes: number;
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
  /** SWITCHYARD_ROLE: api, worker or all (the only role on SQLite). */
  role: Role;
  /** SWITCHYARD_LEASE_SECONDS: the heartbeat timeout after which a dead worker's job goes to another. */
  leaseSeconds: number;
  /** SWITCHYARD_RECONCILE_SECONDS: how old a queued task with no job may get before its job is sent again. */
  reconcileSeconds: number;
  /** SWITCHYARD_RUNS_PER_WORKER: workflow runs one worker drives at once (PostgreSQL). */
  runsPerWorker: number;
  /** SWITCHYARD_DRAIN_SECONDS: the grace running tasks get on SIGTERM. */
  drainSeconds: number;
  claudePath: string | undefined;
  sandbox: 'auto' | 'required' | 'off';
  /** The variables passed through to Claude Code (model endpoint, credentials, proxies). */
  passThroughEnv: Record<string, string>;
  /** Defaults of llm steps (SWITCHYARD_LLM_*, ANTHROPIC_*, the `*_API_KEY` a step may name). */
  llm: LlmDefaults;
  /** Workflow secrets (`{{ secrets.NAME }}`); never passed to Claude Code. */
  secrets: SecretStore;
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

/** Spares cost memory while idle: one per 4 GiB free, at most 4. */
export function defaultWarm(freeBytes = os.freemem()): number {
  return Math.max(0, Math.min(4, Math.floor(freeBytes / (4 * 1024 ** 3))));
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
  const configured = c.SWITCHYARD_WORKSPACE_ROOTS.length > 0;
  const workspaceRoots = (configured ? c.SWITCHYARD_WORKSPACE_ROOTS : [DEFAULT_WORKSPACE]).map((r) =>
    path.resolve(cwd, r),
  );
  const dataDir = path.resolve(cwd, c.SWITCHYARD_DATA_DIR);
  const workflowsDir = c.SWITCHYARD_WORKFLOWS_DIR ? path.resolve(cwd, c.SWITCHYARD_WORKFLOWS_DIR) : undefined;
  // A bare name is looked up on PATH, not in a root; a path is checked where it lands.
  const claudeFile = c.SWITCHYARD_CLAUDE_PATH?.includes('/') ? path.resolve(cwd, c.SWITCHYARD_CLAUDE_PATH) : undefined;
  checkWorkspaceRoots(workspaceRoots, dataDir, configured, { workflowsDir, claudePath: claudeFile });
  if (c.SWITCHYARD_ROLE !== 'all' && c.SWITCHYARD_DATABASE_URL === undefined) {
    throw new AppError(
      'validation',
      `SWITCHYARD_ROLE ${c.SWITCHYARD_ROLE} needs SWITCHYARD_DATABASE_URL: on SQLite one process does everything (role all)`,
      { field: 'SWITCHYARD_ROLE' },
    );
  }
  return {
    host: c.SWITCHYARD_HOST,
    port: c.SWITCHYARD_PORT,
    dataDir,
    databaseUrl: c.SWITCHYARD_DATABASE_URL,
    workspaceRoots,
    apiKeys,
    concurrency: c.SWITCHYARD_CONCURRENCY ?? defaultConcurrency(),
    concurrentStarts: c.SWITCHYARD_CONCURRENT_STARTS ?? os.availableParallelism(),
    warm: c.SWITCHYARD_WARM ?? defaultWarm(),
    warmIdle: c.SWITCHYARD_WARM_IDLE,
    queueLimit: c.SWITCHYARD_QUEUE_LIMIT,
    maxPromptBytes: c.SWITCHYARD_MAX_PROMPT_BYTES,
    maxHookBodyBytes: c.SWITCHYARD_MAX_HOOK_BODY_BYTES,
    maxStepOutputBytes: c.SWITCHYARD_MAX_STEP_OUTPUT_BYTES,
    maxRunContextBytes: c.SWITCHYARD_MAX_RUN_CONTEXT_BYTES,
    maxTranscriptBytes: c.SWITCHYARD_MAX_TRANSCRIPT_BYTES,
    stepRenderBudget: c.SWITCHYARD_STEP_RENDER_BUDGET,
    defaultTimeout: c.SWITCHYARD_DEFAULT_TIMEOUT,
    maxTimeout: c.SWITCHYARD_MAX_TIMEOUT,
    startupTimeout: c.SWITCHYARD_STARTUP_TIMEOUT,
    idleTimeout: c.SWITCHYARD_IDLE_TIMEOUT,
    toolCap: c.SWITCHYARD_TOOL_CAP.length > 0 ? c.SWITCHYARD_TOOL_CAP : undefined,
    projectSettings: c.SWITCHYARD_PROJECT_SETTINGS,
    webhookSecret: c.SWITCHYARD_WEBHOOK_SECRET,
    httpAllow: c.SWITCHYARD_HTTP_ALLOW,
    workflowsDir,
    pools,
    logLevel: c.SWITCHYARD_LOG_LEVEL,
    demo: c.SWITCHYARD_DEMO,
    role: c.SWITCHYARD_ROLE,
    leaseSeconds: c.SWITCHYARD_LEASE_SECONDS,
    reconcileSeconds: c.SWITCHYARD_RECONCILE_SECONDS,
    runsPerWorker: c.SWITCHYARD_RUNS_PER_WORKER,
    drainSeconds: c.SWITCHYARD_DRAIN_SECONDS,
    claudePath: c.SWITCHYARD_CLAUDE_PATH,
    sandbox: c.SWITCHYARD_SANDBOX,
    passThroughEnv,
    llm: llmDefaultsFromEnv(merged),
    secrets: SecretStore.fromEnv(merged, cwd, workspaceRoots),
  };
}

/**
 * A task may read and write anywhere in a workspace root, so no root may hold the data dir (every
 * task's transcript, the database) or the server's own code, nor lie inside them; nor what the server
 * later runs (the workflows it loads and watches, the Claude Code executable). Judged on real paths,
 * so a symlink cannot hide an overlap. Configured roots must exist; the default one is created at start.
 */
function checkWorkspaceRoots(
  roots: string[],
  dataDir: string,
  configured: boolean,
  runs: { workflowsDir: string | undefined; claudePath: string | undefined },
): void {
  const field = configured ? 'SWITCHYARD_WORKSPACE_ROOTS' : 'SWITCHYARD_DATA_DIR';
  const data = realPathOf(dataDir);
  for (const root of roots) {
    if (configured && !fs.existsSync(root)) {
      throw new AppError('validation', `SWITCHYARD_WORKSPACE_ROOTS entry ${root} does not exist`, { field });
    }
    const real = realPathOf(root);
    // The install first: a root that holds the server holds nearly everything else too.
    if (overlapsInstall(real)) {
      throw new AppError(
        'validation',
        `SWITCHYARD_WORKSPACE_ROOTS entry ${root} overlaps Switchyard's own install (${INSTALL_DIR}): ` +
          'a task could rewrite the server. Use a dedicated directory',
        { field: 'SWITCHYARD_WORKSPACE_ROOTS' },
      );
    }
    if (overlaps(real, data)) {
      throw new AppError(
        'validation',
        `SWITCHYARD_DATA_DIR ${dataDir} and the workspace root ${root} overlap: a task could read other tasks' ` +
          'transcripts and the database. Put the data dir outside every workspace root (SWITCHYARD_WORKSPACE_ROOTS)',
        { field },
      );
    }
    for (const [name, value] of [
      ['SWITCHYARD_WORKFLOWS_DIR', runs.workflowsDir],
      ['SWITCHYARD_CLAUDE_PATH', runs.claudePath],
    ] as const) {
      if (value !== undefined && overlaps(real, realPathOf(value))) {
        throw new AppError(
          'validation',
          `${name} ${value} and the workspace root ${root} overlap: a task could change what the server runs`,
          { field: name },
        );
      }
    }
  }
}

/** A URL node-postgres can connect with; the message that refuses one never repeats it (it holds a password). */
function isPostgresUrl(value: string): boolean {
  if (!/^postgres(ql)?:\/\//.test(value)) return false;
  try {
    new URL(value);
    return true;
  } catch {
    return false;
  }
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * Parses SWITCHYARD_POOLS: `name=capacity` pairs separated by commas.
 *
 * @example parsePools('llm=2, http=32') // { llm: 2, http: 32 }
 */
export function parsePools(text: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const raw of (text ?? '').split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const m = /^([a-zA-Z_][a-zA-Z0-9_-]*)\s*=\s*(\d{1,5})$/.exec(entry);
    const capacity = Number(m?.[2]);
    if (!m || capacity < 1 || capacity > 10_000) {
      throw new Error(
        `entry "${entry}" must be name=capacity with a capacity between 1 and 10000 (e.g. llm=2,http=32)`,
      );
    }
    out[m[1] as string] = capacity;
  }
  return out;
}
