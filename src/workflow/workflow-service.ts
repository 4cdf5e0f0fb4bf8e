/**
 * The workflow engine behind WorkflowApi: definitions, runs, approvals, events and the DLQ. Reads come
 * from the store (durable facts only); changes go through the orchestrator's state machine.
 *
 * @example
 * const service = new WorkflowService({ config, store: new SqliteWorkflowStore(sqlite), runClaude, logger });
 * await service.start();
 * await service.registerWorkflow(yamlText, { filename: 'brief.yaml' });
 * const { run } = await service.startRun('market-brief', { topic: 'rates' });
 * const done = await service.waitRun(run.id, 60_000);
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Notifier } from '../cluster/notifier.ts';
import { MemoryNotifier } from '../cluster/notifier-memory.ts';
import { EventRelay } from '../cluster/notifier-relay.ts';
import type { QueueDriver } from '../cluster/queue-driver.ts';
import { EmbeddedQueueDriver } from '../cluster/queue-embedded.ts';
import type { Config } from '../config.ts';
import type { WorkflowDefinition } from '../domain/workflow-definition.ts';
import { AppError } from '../errors.ts';
import { parseAllowList } from '../runners/ssrf.ts';
import { secretRefName, unknownSecretMessage } from '../secrets/secret-store.ts';
import type { RunRecord, StepRecord, WorkflowStore } from '../store/workflow-store.ts';
import { checkHookNamesFree, checkWebhookTriggers } from '../triggers/webhook-definition.ts';
import type { Checkouts } from '../workspaces/checkouts.ts';
import { checkNotify } from './approval-notice.ts';
import { ClusterPools } from './cluster-pools.ts';
import { topologicalOrder } from './dag.ts';
import { fieldPath, parseWorkflow, templatesOf, validateInputs } from './definition.ts';
import type { Logger } from './engine-deps.ts';
import { BUILTIN_POOL_DEFAULTS } from './pools.ts';
import { RunDriver } from './run-driver.ts';
import { type ActiveRun, newStep } from './run-state.ts';
import { type ClaudeStepRunner, stepPolicy } from './step-runner.ts';
import { secretRefs } from './step-secrets.ts';
import { runView, workflowSummary } from './views.ts';
import type {
  DlqEntry,
  HookDelivery,
  PoolUnit,
  PoolView,
  RunEvent,
  RunStatus,
  RunTrigger,
  RunView,
  WorkflowApi,
  WorkflowSummary,
} from './workflow-api.ts';
import { WorkflowsDir } from './workflows-dir.ts';

export interface WorkflowServiceDeps {
  config: Config;
  store: WorkflowStore;
  runClaude: ClaudeStepRunner;
  logger: Logger & { info(obj: object, msg?: string): void };
  redact?: <T>(value: T) => T;
  random?: () => number;
  /** Repository checkouts for claude steps with `workspace:` (src/workspaces/). */
  checkouts?: Checkouts;
  /** Tells the webhook sender an approval notice was queued (approval-notice.ts). */
  webhookQueued?: () => void;
  /**
   * How runs reach a worker and people's actions reach a run's holder (run-driver.ts). Without it, an
   * in-process queue: one process drives every run (the embedded store).
   */
  cluster?: {
    queue: QueueDriver;
    worker: boolean;
    /** Pools held in the store, across processes (cluster-pools.ts): true on PostgreSQL. */
    sharedPools: boolean;
  };
  /** The cluster notifier: run events and ends written on other nodes wake waiters here (notifier-relay.ts). */
  notifier?: Notifier;
}

const TERMINAL: ReadonlySet<RunStatus> = new Set(['completed', 'failed']);

export class WorkflowService implements WorkflowApi {
  readonly #deps: WorkflowServiceDeps;
  readonly #engine: RunDriver;
  /** The in-process queue this service made for itself (no `cluster` given), stopped with it. */
  readonly #ownQueue: EmbeddedQueueDriver | undefined;
  #dir: WorkflowsDir | undefined;
  readonly #registered = new Set<(workflow: WorkflowSummary) => void | Promise<void>>();
  /** Run events and ends, from this node's engine or (read from the store) another node's. */
  readonly #runFeed: EventRelay<RunEvent, true>;

  constructor(deps: WorkflowServiceDeps) {
    this.#deps = deps;
    const { config } = deps;
    this.#ownQueue = deps.cluster ? undefined : new EmbeddedQueueDriver();
    const cluster = {
      ...(deps.cluster ?? { queue: this.#ownQueue!, worker: true, sharedPools: false }),
      notifier: deps.notifier ?? new MemoryNotifier(),
      // One process (embedded queue): every run at once, as before. A shared queue: pg-boss polling loops.
      handlers: deps.cluster?.sharedPools ? config.runsPerWorker : 10_000,
    };
    this.#engine = new RunDriver(
      {
        store: deps.store,
        runner: {
          config,
          runClaude: deps.runClaude,
          llmDefaults: config.llm,
          httpAllow: parseAllowList(config.httpAllow),
          checkouts: deps.checkouts,
        },
        pools: { builtin: { ...BUILTIN_POOL_DEFAULTS, claude: config.concurrency }, operator: config.pools },
        logger: deps.logger,
        ...(deps.redact ? { redact: deps.redact } : {}),
        ...(deps.random ? { random: deps.random } : {}),
        ...(deps.webhookQueued ? { webhookQueued: deps.webhookQueued } : {}),
        ...(cluster.sharedPools ? { sharedPools: { store: deps.store, notifier: cluster.notifier } } : {}),
      },
      cluster,
    );
    this.#runFeed = new EventRelay<RunEvent, true>(
      {
        channel: 'runs',
        idOf: (e) => e.run_id,
        readEvents: (id, after, limit) => deps.store.listRunEvents(id, after, limit),
        readEnd: async (id) => {
          const run = await deps.store.getRun(id);
          return run && TERMINAL.has(run.status) ? true : undefined;
        },
      },
      deps.notifier,
      (err) => deps.logger.error({ err }, 'workflow engine: relaying run events failed'),
    );
    this.#engine.onAnyEvents((events) => this.#runFeed.published(events));
    this.#engine.onAnyTerminal((id) => this.#runFeed.ended(id, true));
  }

  /** Resumes the runs a previous process left, then loads (and watches) SWITCHYARD_WORKFLOWS_DIR. */
  async start(): Promise<void> {
    for (const w of await this.#deps.store.listWorkflows()) this.#engine.pools.declare(w.definition.pools);
    // Checkouts a crash left behind, of runs that will not resume (kept-on-failure ones stay).
    const removed = await this.#deps.checkouts?.sweep(async (id) => {
      const run = await this.#deps.store.getRun(id);
      return run !== undefined && !TERMINAL.has(run.status);
    });
    if (removed) this.#deps.logger.info({ runs: removed }, 'removed checkouts of runs that no longer run');
    await this.#engine.start();
    const dir = this.#deps.config.workflowsDir;
    if (dir) {
      this.#dir = new WorkflowsDir(dir, (text, file) => this.registerWorkflow(text, file), this.#deps.logger);
      await this.#dir.start();
    }
  }

  /** Stops watching and starting work; running steps get `graceMs` to finish (see Orchestrator.stop). */
  async stop(graceMs: number): Promise<void> {
    this.#dir?.stop();
    await this.#engine.stop(graceMs);
    await this.#ownQueue?.stop(0);
    this.#runFeed.close();
  }

  validateWorkflow(text: string, filename?: string): WorkflowDefinition {
    const def = parseWorkflow(text, filename === undefined ? {} : { filename });
    checkNotify(def, this.#deps.config, filename ? `${filename}: ` : '');
    // Tool rules are checked here too, so a bad `allowed_tools` is refused at registration, not mid-run.
    for (const [name, step] of Object.entries(def.steps)) {
      if (step.worker !== 'claude') continue;
      const field = `steps.${name}.allowed_tools`;
      try {
        stepPolicy(step.allowed_tools, this.#deps.config, field);
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
        const where = filename ? `${filename}: ` : '';
        throw new AppError('validation', `${where}step "${name}": ${err.message}`, { field, cause: err });
      }
    }
    // A secret the server does not have is refused now, not when the step first runs.
    for (const [name, step] of Object.entries(def.steps)) {
      for (const ref of secretRefs(step, templatesOf(name, step))) {
        if (this.#deps.config.secrets.has(ref.name)) continue;
        const field = fieldPath(ref.path);
        const where = filename ? `${filename}: ` : '';
        throw new AppError('validation', `${where}${unknownSecretMessage(field, ref.name)}`, { field });
      }
      // A checkout's credentials (src/workspaces/): one {{ secrets.NAME }}, resolved when the step runs.
      const ws = step.worker === 'claude' ? step.workspace : undefined;
      const secret = ws && 'repo' in ws && ws.credentials ? secretRefName(ws.credentials) : undefined;
      if (secret !== undefined && !this.#deps.config.secrets.has(secret)) {
        const field = `steps.${name}.workspace.credentials`;
        const where = filename ? `${filename}: ` : '';
        throw new AppError('validation', `${where}${unknownSecretMessage(field, secret)}`, { field });
      }
    }
    try {
      checkWebhookTriggers(def, this.#deps.config.secrets);
    } catch (err) {
      if (!(err instanceof AppError) || !filename) throw err;
      throw new AppError(err.kind, `${filename}: ${err.message}`, {
        ...(err.field ? { field: err.field } : {}),
        cause: err,
      });
    }
    return def;
  }

  async registerWorkflow(text: string, options: { filename?: string; source?: string } = {}): Promise<WorkflowSummary> {
    const definition = this.validateWorkflow(text, options.filename);
    // Checked before the write, not inside it: two registrations racing for one new hook name could both
    // pass, and a delivery to such a name is then refused (src/triggers/webhook-triggers.ts).
    checkHookNamesFree(
      definition,
      (await this.#deps.store.listWorkflows()).map((w) => w.definition),
    );
    const record = await this.#deps.store.putWorkflow({
      name: definition.name,
      source: options.source ?? 'api',
      definition,
      updated_at: new Date().toISOString(),
    });
    this.#engine.pools.declare(definition.pools);
    const summary = workflowSummary(record);
    for (const listener of this.#registered) await listener(summary);
    return summary;
  }

  /**
   * Calls (and awaits) `listener` after every registration, so schedules follow the current definitions
   * by the time the registration is answered.
   */
  onRegistered(listener: (workflow: WorkflowSummary) => void | Promise<void>): () => void {
    this.#registered.add(listener);
    return () => this.#registered.delete(listener);
  }

  async listWorkflows(): Promise<WorkflowSummary[]> {
    return (await this.#deps.store.listWorkflows()).map(workflowSummary);
  }

  async listPools(): Promise<PoolView[]> {
    const declaring = new Map<string, string[]>();
    for (const w of await this.#deps.store.listWorkflows()) {
      for (const pool of Object.keys(w.definition.pools ?? {}))
        declaring.set(pool, [...(declaring.get(pool) ?? []), w.name]);
    }
    const unit = ({ run, unit }: { run: ActiveRun; unit: StepRecord }): PoolUnit => ({
      run_id: run.record.id,
      workflow: run.record.workflow,
      step: unit.name,
      item_index: unit.item_index,
    });
    const pools = this.#engine.pools;
    // Cluster pools: the holders of every process, from the store (waiters are this process's).
    const holds = pools instanceof ClusterPools ? await pools.clusterHolds() : undefined;
    const workflowOf = new Map<string, string>();
    for (const id of new Set(holds?.map((h) => h.run_id))) {
      workflowOf.set(id, (await this.#deps.store.getRun(id))?.workflow ?? '');
    }
    return pools.states().map((p) => {
      const shared = pools instanceof ClusterPools && pools.isShared(p.name);
      const mine = shared ? holds?.filter((h) => h.pool === p.name) : undefined;
      return {
        name: p.name,
        capacity: p.capacity,
        source: p.source,
        workflows: p.source === 'workflow' ? (declaring.get(p.name) ?? []).sort() : [],
        running: mine ? mine.length : p.running,
        holders: mine
          ? mine.map((h) => ({
              run_id: h.run_id,
              workflow: workflowOf.get(h.run_id) ?? '',
              step: h.step,
              item_index: h.item_index,
              since: h.since,
            }))
          : p.holders.map((h) => ({ ...unit(h.holder), since: h.since })),
        waiting: p.waiting.map(unit),
      };
    });
  }

  async getWorkflow(name: string): Promise<WorkflowSummary> {
    const record = await this.#deps.store.getWorkflow(name);
    if (!record) throw new AppError('not_found', `no workflow named ${JSON.stringify(name)}`, { field: 'workflow' });
    return workflowSummary(record);
  }

  async startRun(
    workflow: string,
    inputs: unknown,
    options: { idempotencyKey?: string; delivery?: HookDelivery; trigger?: RunTrigger } = {},
  ): Promise<{ run: RunView; created: boolean }> {
    const wf = await this.getWorkflow(workflow);
    const key = options.idempotencyKey;
    if (key !== undefined && !/^[\x21-\x7e]{1,255}$/.test(key)) {
      throw new AppError('validation', 'Idempotency-Key must be 1 to 255 printable ASCII characters', {
        field: 'Idempotency-Key',
      });
    }
    // Schedules key their runs `schedule:<digest of the fire>`: a client holding such a key could
    // take a fire's place (its run, without the trigger), so the prefix is theirs alone.
    if (key?.startsWith('schedule:') && options.trigger === undefined) {
      throw new AppError('validation', 'Idempotency-Key must not start with "schedule:" (reserved for schedules)', {
        field: 'Idempotency-Key',
      });
    }
    const validated = validateInputs(wf.definition, inputs);
    const id = randomUUID();
    const steps = topologicalOrder(wf.definition).map((name) => newStep(id, name));
    const newRun = {
      id,
      workflow: wf.name,
      version: wf.version,
      definition: wf.definition,
      inputs: validated,
      idempotency_key: key ?? null,
      idempotency_hash: key
        ? createHash('sha256')
            .update(JSON.stringify([workflow, inputs ?? {}]))
            .digest('hex')
        : null,
      created_at: new Date().toISOString(),
      ...(options.trigger ? { trigger: options.trigger } : {}),
      ...(options.delivery
        ? {
            trigger: {
              kind: 'webhook' as const,
              name: options.delivery.hook,
              delivery: options.delivery.id,
              event: options.delivery.event,
            },
          }
        : {}),
    };
    const { delivery } = options;
    const { run, created } = delivery
      ? await this.#deps.store.createRunForDelivery(
          { hook: delivery.hook, delivery_id: delivery.id, event: delivery.event, received_at: newRun.created_at },
          newRun,
          steps,
        )
      : await this.#deps.store.createRun(newRun, steps);
    if (created) await this.#engine.runCreated(run.id);
    return { run: await this.getRun(run.id), created };
  }

  async #record(id: string): Promise<RunRecord> {
    const run = await this.#deps.store.getRun(id);
    if (!run) throw new AppError('not_found', `no run with id ${JSON.stringify(id)}`, { field: 'id' });
    return run;
  }

  async #view(run: RunRecord): Promise<RunView> {
    return runView(run, await this.#deps.store.getSteps(run.id), (pool) => this.#engine.pools.usage(pool));
  }

  async getRun(id: string): Promise<RunView> {
    return this.#view(await this.#record(id));
  }

  async waitRun(id: string, waitMs: number, signal?: AbortSignal): Promise<RunView> {
    let done = () => {};
    const over = new Promise<void>((resolve) => {
      done = resolve;
    });
    // Subscribe before reading, so an end between the read and the subscription is not missed.
    const off = this.#runFeed.onEnd(id, () => done());
    const timer = setTimeout(() => done(), Math.max(0, waitMs));
    const onAbort = () => done();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const first = await this.#record(id);
      if (TERMINAL.has(first.status) || waitMs <= 0 || signal?.aborted) return await this.#view(first);
      await over;
      return await this.getRun(id);
    } finally {
      off();
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  async listRuns(query: { workflow?: string; status?: RunStatus; limit: number; cursor?: string }) {
    const page = await this.#deps.store.listRuns(query);
    return { items: await Promise.all(page.items.map((r) => this.#view(r))), next_cursor: page.next_cursor };
  }

  async cancelRun(id: string): Promise<RunView> {
    await this.#record(id);
    await this.#engine.act(id, { kind: 'cancel' });
    return this.getRun(id);
  }

  async rerunFrom(id: string, step?: string): Promise<RunView> {
    await this.#engine.act(id, step === undefined ? { kind: 'rerun' } : { kind: 'rerun', step });
    return this.getRun(id);
  }

  async decideApproval(id: string, step: string, decision: { approved: boolean; comment?: string }): Promise<RunView> {
    await this.#record(id);
    const { approved, comment } = decision;
    await this.#engine.act(id, { kind: 'decide', step, approved, ...(comment === undefined ? {} : { comment }) });
    return this.getRun(id);
  }

  async runEvents(id: string, afterSeq: number, limit = 1000): Promise<RunEvent[]> {
    await this.#record(id);
    return this.#deps.store.listRunEvents(id, afterSeq, limit);
  }

  onRunEvent(id: string, listener: (event: RunEvent) => void): () => void {
    return this.#runFeed.onEvent(id, listener);
  }

  listDlq(query: { status?: DlqEntry['status']; limit: number; cursor?: string }) {
    return this.#deps.store.listDlq(query);
  }

  async getDlq(id: string): Promise<DlqEntry> {
    const entry = await this.#deps.store.getDlq(id);
    if (!entry) throw new AppError('not_found', `no DLQ entry with id ${JSON.stringify(id)}`, { field: 'id' });
    return entry;
  }

  async retryDlq(id: string): Promise<RunView> {
    const entry = await this.getDlq(id);
    await this.#engine.act(entry.run_id, { kind: 'redrive', entry: entry.id });
    return this.getRun(entry.run_id);
  }

  async discardDlq(id: string): Promise<DlqEntry> {
    const entry = await this.getDlq(id);
    await this.#engine.act(entry.run_id, { kind: 'discard', entry: entry.id });
    return this.getDlq(id);
  }
}
