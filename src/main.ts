/**
 * Composition root: config → store → task scheduler and service → HTTP. Nothing here runs at import.
 */
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { pino } from 'pino';
import { createApp } from './api/app.ts';
import { dlqRoutes } from './api/routes/dlq.ts';
import { runRoutes } from './api/routes/runs.ts';
import { workflowRoutes } from './api/routes/workflows.ts';
import type { Config } from './config.ts';
import { Metrics } from './metrics.ts';
import { demoScript } from './model/demo-script.ts';
import { ModelProxy } from './model/model-proxy.ts';
import { type ScriptedModel, startScriptedModel } from './model/scripted-model.ts';
import { killOrphans } from './runners/claude/process-tree.ts';
import { runClaude } from './runners/claude/run-claude.ts';
import { parseAllowList } from './runners/ssrf.ts';
import { Redactor } from './secrets.ts';
import { openSqliteStore } from './store/sqlite/sqlite-store.ts';
import { SqliteWorkflowStore } from './store/sqlite/sqlite-workflow-store.ts';
import type { TaskRecord } from './store/store.ts';
import { TaskNotifier } from './tasks/task-events.ts';
import { TaskScheduler } from './tasks/task-scheduler.ts';
import { TaskService } from './tasks/task-service.ts';
import { WebhookSender } from './tasks/webhooks.ts';
import { WorkflowService } from './workflow/workflow-service.ts';

export interface RunningServer {
  url: string;
  tasks: TaskService;
  /** The workflow engine (WorkflowApi). */
  workflows: WorkflowService;
  /** Graceful stop: no new work, running tasks get `graceMs` to finish, then the store closes. */
  close(graceMs?: number): Promise<void>;
}

/** Keys and tokens that must never reach a log line. */
const REDACT = [
  'req.headers.authorization',
  'config.apiKeys',
  'config.passThroughEnv',
  'config.webhookSecret',
  '*.ANTHROPIC_API_KEY',
  '*.ANTHROPIC_AUTH_TOKEN',
];

export async function startServer(config: Config): Promise<RunningServer> {
  const redactor = new Redactor([
    ...config.apiKeys,
    config.webhookSecret,
    config.passThroughEnv.ANTHROPIC_API_KEY,
    config.passThroughEnv.ANTHROPIC_AUTH_TOKEN,
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
  const store = openSqliteStore(config.dataDir);
  const orphans = killOrphans(config.dataDir);
  if (orphans > 0) logger.warn({ orphans }, 'killed processes left by tasks of an earlier run');
  const notifier = new TaskNotifier();
  const webhooks = new WebhookSender({
    store,
    secret: config.webhookSecret,
    httpAllow: config.httpAllow,
    logger,
    redact: (text) => redactor.text(text),
  });
  const env = config.passThroughEnv;
  const modelProxy = await ModelProxy.start({
    baseUrl: env.ANTHROPIC_BASE_URL ?? 'https://api.anthropic.com',
    apiKey: env.ANTHROPIC_API_KEY,
    authToken: env.ANTHROPIC_AUTH_TOKEN,
  });
  const onTerminal = (task: TaskRecord) => {
    metrics.taskEnded(task);
    void webhooks.enqueue(task);
  };
  const runnerOptions = {
    passThroughEnv: config.passThroughEnv,
    modelAccess: () => modelProxy.issue(),
    startupTimeout: config.startupTimeout,
    owner: config.dataDir,
    projectSettings: config.projectSettings,
    httpAllow: parseAllowList(config.httpAllow),
    ...(config.claudePath ? { claudePath: config.claudePath } : {}),
  };
  const scheduler = new TaskScheduler({
    store,
    notifier,
    concurrency: config.concurrency,
    dataDir: config.dataDir,
    redactor,
    runClaude: (input, ctx, hooks) => runClaude(input, ctx, { ...runnerOptions, ...hooks }),
    onTerminal,
  });
  const tasks = new TaskService({ config, store, notifier, scheduler, onTerminal });
  const metrics = new Metrics({ queued: () => store.countByStatus('queued'), running: () => scheduler.runningCount });
  await tasks.start();
  webhooks.start();
  const workflows = new WorkflowService({
    config,
    store: new SqliteWorkflowStore(store),
    runClaude: (input, ctx) => runClaude(input, ctx, runnerOptions),
    logger,
    redact: (value) => redactor.value(value),
  });
  await workflows.start();

  const app = createApp({
    config,
    tasks,
    logger,
    metrics,
    extraRoutes: [workflowRoutes(workflows), runRoutes(workflows), dlqRoutes(workflows)],
  });
  const server = serve({ fetch: app.fetch, hostname: config.host, port: config.port });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  logger.info({ url, concurrency: config.concurrency, dataDir: config.dataDir }, 'switchyard listening');

  let closing: Promise<void> | undefined;
  return {
    url,
    tasks,
    workflows,
    close(graceMs = 30_000) {
      closing ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          // Long-polls and SSE streams would hold close() open; end them.
          (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
        });
        await Promise.all([scheduler.drain(graceMs), workflows.stop(graceMs)]);
        await webhooks.stop();
        await store.close();
        await modelProxy.close();
        await demoModel?.close();
      })();
      return closing;
    },
  };
}
