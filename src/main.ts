/**
 * Composition root: config → store → task scheduler and service → HTTP. Nothing here runs at import.
 */

import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { serve } from '@hono/node-server';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { pino } from 'pino';
import { createApp } from './api/app.ts';
import { dlqRoutes } from './api/routes/dlq.ts';
import { hookDeliveryRoutes, hookListRoutes } from './api/routes/hooks.ts';
import { poolRoutes } from './api/routes/pools.ts';
import { runRoutes } from './api/routes/runs.ts';
import { scheduleRoutes } from './api/routes/schedules.ts';
import { workflowRoutes } from './api/routes/workflows.ts';
import { createWorkerApp } from './api/worker-app.ts';
import { openNotifier } from './cluster/notifier-open.ts';
import { openQueueDriver } from './cluster/open-queue.ts';
import { type Config, isLoopback } from './config.ts';
import { lockDataDir } from './data-dir-lock.ts';
import { AppError } from './errors.ts';
import { Metrics } from './metrics.ts';
import { missingCredentials, missingCredentialsError } from './model/credentials.ts';
import { demoScript } from './model/demo-script.ts';
import { ModelProxy, type TaskLimits } from './model/model-proxy.ts';
import { type ScriptedModel, startScriptedModel } from './model/scripted-model.ts';
import { isWithin } from './paths.ts';
import { createAdmission, type Semaphore } from './runners/claude/admission.ts';
import { killOrphans } from './runners/claude/process-tree.ts';
import { type ClaudeInput, type ClaudeRunnerOptions, runClaude } from './runners/claude/run-claude.ts';
import { prepareSandboxHost, probeSandbox, type SandboxStatus } from './runners/claude/sandbox.ts';
import { WarmPool } from './runners/claude/warm-pool.ts';
import type { OutputEnvelope, RunContext } from './runners/runner.ts';
import { parseAllowList } from './runners/ssrf.ts';
import { Redactor, secretForms } from './secrets/redactor.ts';
import { openStore } from './store/open-store.ts';
import type { TaskRecord } from './store/store.ts';
import { TaskNotifier } from './tasks/task-events.ts';
import { TaskScheduler } from './tasks/task-scheduler.ts';
import { TaskService } from './tasks/task-service.ts';
import { WebhookSender } from './tasks/webhooks.ts';
import { type Clock, realClock } from './triggers/clock.ts';
import { Schedules } from './triggers/schedules.ts';
import { WebhookTriggers } from './triggers/webhook-triggers.ts';
import { WorkflowService } from './workflow/workflow-service.ts';
import { Checkouts } from './workspaces/checkouts.ts';

export interface RunningServer {
  url: string;
  /** The OS sandbox every Claude Code process runs in (or why it does not). */
  sandbox: SandboxStatus;
  /** Parked Claude Code spares. */
  warm: WarmPool;
  tasks: TaskService;
  /** The workflow engine (WorkflowApi). */
  workflows: WorkflowService;
  /** Cron triggers of the registered workflows. */
  schedules: Schedules;
  /** The HTTP app: its registered routes are checked against /openapi.json (test/api/contract.test.ts). */
  app: OpenAPIHono;
  /** Graceful stop: no new work, running tasks get `graceMs` to finish, then the store closes. */
  close(graceMs?: number): Promise<void>;
}

/** Keys and tokens that must never reach a log line. */
const REDACT = [
  'req.headers.authorization',
  'config.apiKeys',
  'config.passThroughEnv',
  'config.webhookSecret',
  'config.databaseUrl',
  '*.ANTHROPIC_API_KEY',
  '*.ANTHROPIC_AUTH_TOKEN',
];

/** Seams a test may replace: the clock schedules fire by. */
export interface ServerOptions {
  clock?: Clock;
}

export async function startServer(config: Config, options: ServerOptions = {}): Promise<RunningServer> {
  const redactor = new Redactor([
    ...config.apiKeys,
    config.webhookSecret,
    config.passThroughEnv.ANTHROPIC_API_KEY,
    config.passThroughEnv.ANTHROPIC_AUTH_TOKEN,
    // Workflow secrets, in every form a template writes them (raw, percent-encoded, JSON-escaped).
    ...config.secrets.values().flatMap(secretForms),
    // The password, not the whole URL: the redactor also cuts tails of what it is given, and the URL's
    // tail is the database name ("…/switchyard" would blank the word everywhere).
    databasePassword(config.databaseUrl),
  ]);
  const logger = pino({
    level: config.logLevel,
    redact: { paths: REDACT, censor: '[redacted]' },
    formatters: { log: (obj) => redactor.value(obj) },
  });
  let demoModel: ScriptedModel | undefined;
  if (config.demo) {
    demoModel = await startScriptedModel(demoScript);
    config = {
      ...config,
      passThroughEnv: { ...config.passThroughEnv, ANTHROPIC_BASE_URL: demoModel.url, ANTHROPIC_API_KEY: 'demo' },
    };
    logger.info({ model: demoModel.url }, 'demo mode: Claude Code talks to the built-in scripted model');
  }
  // Without model credentials the server still serves llm, http and transform work; claude runs fail at once.
  const noCredentials = missingCredentials(config.passThroughEnv);
  if (noCredentials) logger.warn(`${noCredentials}. Tasks and claude steps fail until then.`);
  // loadConfig required configured roots to exist; this creates the default one (./workspace).
  for (const root of config.workspaceRoots) fs.mkdirSync(root, { recursive: true });
  const sandbox = await probeSandbox(config.sandbox);
  if (!sandbox.active && config.sandbox === 'required') {
    throw new AppError('validation', `SWITCHYARD_SANDBOX=required but ${sandbox.reason}`, {
      field: 'SWITCHYARD_SANDBOX',
    });
  }
  // An api node runs no Claude Code, so it may listen beyond loopback without the sandbox.
  if (!sandbox.active && config.sandbox !== 'off' && !isLoopback(config.host) && config.role !== 'api') {
    throw new AppError(
      'validation',
      `SWITCHYARD_HOST ${config.host} is not a loopback address and the sandbox is unavailable (${sandbox.reason}): ` +
        'install it, or set SWITCHYARD_SANDBOX=off to run tasks unconfined',
      { field: 'SWITCHYARD_SANDBOX' },
    );
  }
  if (!sandbox.active && config.sandbox === 'auto') {
    logger.warn(
      { sandbox },
      `NO SANDBOX: Claude Code runs as the server's user with its view of the machine (${sandbox.reason}). ` +
        'allowed_tools is then enforced by the gate alone.',
    );
  }
  // Before anything that assumes the data dir is ours alone: the orphan kill, the model socket.
  const unlockDataDir = lockDataDir(config.dataDir);
  // SQLite in the data dir, or PostgreSQL (SWITCHYARD_DATABASE_URL); the data dir stays this process's
  // own either way (transcripts, sandbox files), and so does the lock on it.
  const { store, workflows: workflowStore } = await openStore(config);
  // The cluster notifier (in-process, or LISTEN/NOTIFY on PostgreSQL): what another node writes wakes
  // long-polls, streams and schedules here (docs/cluster.md, "Cross-node reads").
  const onNotifierError = (err: unknown) => logger.warn({ err }, 'notifier: a notice was lost or a listener failed');
  const cluster = await openNotifier(config, { onError: onNotifierError }).catch(async (err: unknown) => {
    await store.close();
    throw err;
  });
  // Roles (docs/cluster.md): an api process runs no Claude Code and takes no jobs; a worker serves no API.
  const takesJobs = config.role !== 'api';
  const servesApi = config.role !== 'worker';
  // In-process on SQLite, pg-boss on PostgreSQL; `shared`: other processes take jobs from it too.
  const { driver: queue, shared } = await openQueueDriver(config, {
    onError: (err) =>
      logger.warn({ err }, 'queue: pg-boss reported an error (retried; a restarting database emits several)'),
  });
  const orphans = killOrphans(config.dataDir);
  if (orphans > 0) logger.warn({ orphans }, 'killed processes left by tasks of an earlier run');
  const notifier = new TaskNotifier({ notifier: cluster, store, onError: onNotifierError });
  const webhooks = new WebhookSender({
    store,
    secret: config.webhookSecret,
    httpAllow: config.httpAllow,
    logger,
    redact: (text) => redactor.text(text),
  });
  const env = config.passThroughEnv;
  const modelSocket = sandbox.active ? modelSocketPath(config.dataDir) : undefined;
  const modelProxy = await ModelProxy.start(
    {
      baseUrl: env.ANTHROPIC_BASE_URL ?? 'https://api.anthropic.com',
      apiKey: env.ANTHROPIC_API_KEY,
      authToken: env.ANTHROPIC_AUTH_TOKEN,
    },
    modelSocket ? { socketPath: modelSocket } : {},
  );
  const onTerminal = (task: TaskRecord) => {
    metrics.taskEnded(task);
    void webhooks.enqueue(task);
  };
  // One budget of Claude Code processes for tasks and workflow steps alike, and a start gate inside it.
  const admission = createAdmission(config.concurrency, config.concurrentStarts);
  const processOptions = {
    passThroughEnv: config.passThroughEnv,
    modelAccess: (limits: TaskLimits) => modelProxy.issue(limits),
    owner: config.dataDir,
    projectSettings: config.projectSettings,
    httpAllow: parseAllowList(config.httpAllow),
    ...(config.claudePath ? { claudePath: config.claudePath } : {}),
    sandbox: modelSocket ? prepareSandboxHost(config.dataDir, modelSocket) : undefined,
  };
  const warm = new WarmPool({
    cap: takesJobs ? config.warm : 0,
    idleMs: config.warmIdle,
    configRoot: path.join(config.dataDir, 'claude'),
    process: processOptions,
    startGate: admission.starts,
    onError: (err) => logger.warn({ err }, 'a warm Claude Code spare could not be started'),
  });
  const runnerOptions = {
    ...processOptions,
    startupTimeout: config.startupTimeout,
    startGate: admission.starts,
    warm,
    redact: (text: string) => redactor.text(text),
  };
  const scheduler = new TaskScheduler({
    store,
    notifier,
    slots: admission.slots,
    dataDir: config.dataDir,
    redactor,
    runClaude: async (input, ctx, hooks) => {
      if (noCredentials) throw missingCredentialsError(noCredentials);
      return runClaude(input, ctx, { ...runnerOptions, ...hooks });
    },
    onTerminal,
    sandbox,
    queue,
    shared,
    reconcileSeconds: config.reconcileSeconds,
    maxTranscriptBytes: config.maxTranscriptBytes,
    onError: (err, what) => logger.warn({ err }, `tasks: ${what} failed`),
  });
  const tasks = new TaskService({
    config,
    store,
    notifier,
    scheduler,
    onTerminal,
    queue,
    shared,
    onError: (err, what) => logger.warn({ err }, `tasks: ${what} failed; a worker's reconciler sends it again`),
  });
  const metrics = new Metrics({
    queued: () => store.countByStatus('queued'),
    running: () => scheduler.runningCount,
    admission,
  });
  await tasks.start();
  if (takesJobs) {
    await scheduler.start();
  }
  webhooks.start();
  const checkouts = new Checkouts({ dataDir: config.dataDir, httpAllow: processOptions.httpAllow, logger });
  const workflows = new WorkflowService({
    config,
    store: workflowStore,
    runClaude: async (input, ctx) => {
      if (noCredentials) throw missingCredentialsError(noCredentials);
      // A checkout is a cwd used once: a warm spare parked for its shape would never be claimed.
      const options = isWithin(checkouts.root, input.cwd) ? { ...runnerOptions, warm: undefined } : runnerOptions;
      return runWorkflowClaude(admission.slots, input, ctx, options);
    },
    checkouts,
    logger,
    redact: (value) => redactor.value(value),
    webhookQueued: () => webhooks.kick(),
    notifier: cluster,
    // Run jobs go through the same driver as tasks: one worker drives a run at a time (run-driver.ts).
    cluster: { queue, worker: takesJobs, sharedPools: shared },
  });
  await workflows.start();
  const hooks = new WebhookTriggers({ workflows, deliveries: workflowStore, secrets: config.secrets, logger });
  const schedules = new Schedules({
    store: workflowStore,
    runs: workflows,
    clock: options.clock ?? realClock,
    logger,
    notifier: cluster,
    ...(cluster.shared ? { refreshEveryMs: 60_000 } : {}),
  });
  workflows.onRegistered(() =>
    schedules.refresh().catch((err: unknown) => logger.error({ err }, 'schedules: refresh failed')),
  );
  await schedules.start();
  // Every subscription above hears other nodes before this one answers its first request.
  await cluster.ready();

  const app = !servesApi
    ? createWorkerApp({ apiKeys: config.apiKeys, logger, metrics, sandbox })
    : createApp({
        config,
        tasks,
        logger,
        metrics,
        sandbox,
        openRoutes: [hookDeliveryRoutes(hooks, config.maxHookBodyBytes)],
        extraRoutes: [
          workflowRoutes(workflows),
          runRoutes(workflows),
          dlqRoutes(workflows),
          hookListRoutes(hooks),
          scheduleRoutes(schedules),
          poolRoutes(workflows),
        ],
      });
  const server = serve({ fetch: app.fetch, hostname: config.host, port: config.port });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  logger.info(
    {
      url,
      role: config.role,
      concurrency: config.concurrency,
      dataDir: config.dataDir,
      sandbox: sandbox.active ? 'bubblewrap' : 'none',
    },
    'switchyard listening',
  );

  let closing: Promise<void> | undefined;
  return {
    url,
    sandbox,
    warm,
    tasks,
    workflows,
    schedules,
    app,
    close(graceMs = 30_000) {
      closing ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          // Long-polls and SSE streams would hold close() open; end them.
          (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
        });
        await schedules.stop();
        await Promise.all([scheduler.drain(graceMs), workflows.stop(graceMs)]);
        await warm.close();
        await webhooks.stop();
        notifier.close();
        await cluster.close();
        await store.close();
        await modelProxy.close();
        await demoModel?.close();
        unlockDataDir();
      })();
      return closing;
    },
  };
}

/** The password in SWITCHYARD_DATABASE_URL, for the redactor (pino's paths cover the URL itself). */
function databasePassword(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  try {
    return decodeURIComponent(new URL(url).password) || undefined;
  } catch {
    return undefined;
  }
}

/**
 * The model proxy's unix socket. A socket path is limited to 107 bytes, so a deep data dir gets a
 * private directory under the system's temp dir instead.
 */
function modelSocketPath(dataDir: string): string {
  const inData = path.join(dataDir, 'sandbox', 'model.sock');
  if (Buffer.byteLength(inData) <= 100) {
    fs.mkdirSync(path.dirname(inData), { recursive: true, mode: 0o700 });
    return inData;
  }
  return path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-')), 'model.sock');
}

/**
 * A workflow claude step takes a Claude Code slot the way a task does, and holds it until the process
 * is gone (not just until its result), so tasks and steps together never exceed the memory budget.
 */
async function runWorkflowClaude(
  slots: Semaphore,
  input: ClaudeInput,
  ctx: RunContext,
  options: ClaudeRunnerOptions,
): Promise<OutputEnvelope> {
  await slots.acquire(ctx.signal);
  let handedOver = false;
  try {
    return await runClaude(input, ctx, {
      ...options,
      onExit: (exited) => {
        handedOver = true;
        void exited.finally(() => slots.release());
      },
    });
  } finally {
    if (!handedOver) slots.release();
  }
}
