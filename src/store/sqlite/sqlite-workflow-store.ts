/**
 * The embedded WorkflowStore: tables of migration 002 in the same SQLite database as the tasks, and
 * every write inside SqliteStore's group-committed durable transaction, so a step's completion and the
 * start of its dependants share one fsync with whatever else is being written in that tick.
 */
import type { SQLInputValue } from 'node:sqlite';
import type { DlqEntry, RunEvent } from '../../domain/runs.ts';
import type { WorkflowDefinition } from '../../domain/workflow-definition.ts';
import { AppError } from '../../errors.ts';
import { type RunClusterStore, RunFencedError } from '../run-cluster-store.ts';
import type { ScheduleStore } from '../schedule-store.ts';
import { toDlq, toEvent, toRun, toStep, toWorkflow } from '../workflow-rows.ts';
import type {
  NewRun,
  RunListQuery,
  RunRecord,
  StepRecord,
  WebhookDelivery,
  WorkflowBatch,
  WorkflowRecord,
  WorkflowStore,
} from '../workflow-store.ts';
import { json, type Row, text } from './columns.ts';
import { SqliteRunClusterStore } from './sqlite-run-cluster-store.ts';
import { SqliteScheduleStore } from './sqlite-schedule-store.ts';
import type { SqliteStore } from './sqlite-store.ts';

/** Runs that have not ended. */
const ACTIVE = "status NOT IN ('completed', 'failed')";

export class SqliteWorkflowStore implements WorkflowStore {
  readonly #base: SqliteStore;
  readonly #schedules: ScheduleStore;
  readonly #cluster: RunClusterStore;

  constructor(base: SqliteStore) {
    this.#base = base;
    this.#schedules = new SqliteScheduleStore(base);
    this.#cluster = new SqliteRunClusterStore(base);
  }

  // Run ownership, run commands and pool holds (migration 007) live in their own file; these delegate.
  adoptRun: RunClusterStore['adoptRun'] = (id) => this.#cluster.adoptRun(id);
  releaseRun: RunClusterStore['releaseRun'] = (id, a, p) => this.#cluster.releaseRun(id, a, p);
  listRunsToWake: RunClusterStore['listRunsToWake'] = (n, o) => this.#cluster.listRunsToWake(n, o);
  addRunCommand: RunClusterStore['addRunCommand'] = (c) => this.#cluster.addRunCommand(c);
  getRunCommand: RunClusterStore['getRunCommand'] = (id) => this.#cluster.getRunCommand(id);
  pendingRunCommands: RunClusterStore['pendingRunCommands'] = (id) => this.#cluster.pendingRunCommands(id);
  finishRunCommand: RunClusterStore['finishRunCommand'] = (id, o, at) => this.#cluster.finishRunCommand(id, o, at);
  takePoolHold: RunClusterStore['takePoolHold'] = (h, c) => this.#cluster.takePoolHold(h, c);
  releasePoolHold: RunClusterStore['releasePoolHold'] = (h) => this.#cluster.releasePoolHold(h);
  dropRunPoolHolds: RunClusterStore['dropRunPoolHolds'] = (id) => this.#cluster.dropRunPoolHolds(id);
  listPoolHolds: RunClusterStore['listPoolHolds'] = () => this.#cluster.listPoolHolds();

  // Schedules (migration 004) live in their own file; these delegate.
  upsertSchedule: ScheduleStore['upsertSchedule'] = (s) => this.#schedules.upsertSchedule(s);
  getSchedule: ScheduleStore['getSchedule'] = (k) => this.#schedules.getSchedule(k);
  listSchedules: ScheduleStore['listSchedules'] = () => this.#schedules.listSchedules();
  deleteSchedule: ScheduleStore['deleteSchedule'] = (k) => this.#schedules.deleteSchedule(k);
  setSchedulePaused: ScheduleStore['setSchedulePaused'] = (k, p, at) => this.#schedules.setSchedulePaused(k, p, at);
  claimFire: ScheduleStore['claimFire'] = (f) => this.#schedules.claimFire(f);
  settleFire: ScheduleStore['settleFire'] = (f, o, at) => this.#schedules.settleFire(f, o, at);
  lastFire: ScheduleStore['lastFire'] = (k) => this.#schedules.lastFire(k);
  listUnsettledFires: ScheduleStore['listUnsettledFires'] = () => this.#schedules.listUnsettledFires();
  activeScheduledRun: ScheduleStore['activeScheduledRun'] = (k) => this.#schedules.activeScheduledRun(k);

  #get(sql: string, ...params: SQLInputValue[]): Row | undefined {
    return this.#base.prepare(sql).get(...params) as Row | undefined;
  }

  #all(sql: string, ...params: SQLInputValue[]): Row[] {
    return this.#base.prepare(sql).all(...params) as Row[];
  }

  #run(sql: string, ...params: SQLInputValue[]): number {
    return Number(this.#base.prepare(sql).run(...params).changes);
  }

  putWorkflow(w: {
    name: string;
    source: string;
    definition: WorkflowDefinition;
    updated_at: string;
  }): Promise<WorkflowRecord> {
    return this.#base.write(() => {
      const definition = JSON.stringify(w.definition);
      const existing = this.#get('SELECT * FROM workflows WHERE name = ?', w.name);
      if (existing && existing.definition === definition && existing.source === w.source) return toWorkflow(existing);
      const version = existing ? Number(existing.version) + (existing.definition === definition ? 0 : 1) : 1;
      const row = this.#get(
        `INSERT INTO workflows (name, version, source, definition, updated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET version = excluded.version, source = excluded.source,
           definition = excluded.definition, updated_at = excluded.updated_at
         RETURNING *`,
        w.name,
        version,
        w.source,
        definition,
        w.updated_at,
      );
      return toWorkflow(row!);
    });
  }

  async getWorkflow(name: string): Promise<WorkflowRecord | undefined> {
    const row = this.#get('SELECT * FROM workflows WHERE name = ?', name);
    return row ? toWorkflow(row) : undefined;
  }

  async listWorkflows(): Promise<WorkflowRecord[]> {
    return this.#all('SELECT * FROM workflows ORDER BY name').map(toWorkflow);
  }

  createRun(run: NewRun, steps: StepRecord[]): Promise<{ run: RunRecord; created: boolean }> {
    return this.#base.write(() => this.#insertRun(run, steps));
  }

  /** createRun's body, inside the caller's write transaction. */
  #insertRun(run: NewRun, steps: StepRecord[]): { run: RunRecord; created: boolean } {
    if (run.idempotency_key !== null) {
      const existing = this.#get('SELECT * FROM workflow_runs WHERE idempotency_key = ?', run.idempotency_key);
      if (existing) {
        if (existing.idempotency_hash !== run.idempotency_hash) {
          throw new AppError('conflict', 'Idempotency-Key was already used with a different request', {
            field: 'Idempotency-Key',
          });
        }
        return { run: toRun(existing), created: false };
      }
    }
    const row = this.#get(
      `INSERT INTO workflow_runs (id, workflow, version, definition, status, inputs, idempotency_key, idempotency_hash, created_at, usage, run_trigger)
       VALUES (?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?) RETURNING *`,
      run.id,
      run.workflow,
      run.version,
      JSON.stringify(run.definition),
      JSON.stringify(run.inputs),
      run.idempotency_key,
      run.idempotency_hash,
      run.created_at,
      JSON.stringify({ input_tokens: 0, output_tokens: 0, cost_usd: 0 }),
      json(run.trigger),
    );
    for (const step of steps) this.#putStep(step);
    return { run: toRun(row!), created: true };
  }

  createRunForDelivery(
    delivery: Omit<WebhookDelivery, 'run_id'>,
    run: NewRun,
    steps: StepRecord[],
  ): Promise<{ run: RunRecord; created: boolean }> {
    // One transaction for the delivery row and the run: a crash before COMMIT leaves neither (the
    // sender, unanswered, delivers again and the run starts once); after it, both (the engine resumes
    // the queued run at start, and the sender's retry finds the row and gets this run back).
    return this.#base.write(() => {
      const existing = this.#get(
        `SELECT r.* FROM inbound_webhook_deliveries d JOIN workflow_runs r ON r.id = d.run_id
         WHERE d.hook = ? AND d.delivery_id = ?`,
        delivery.hook,
        delivery.delivery_id,
      );
      if (existing) return { run: toRun(existing), created: false };
      const created = this.#insertRun(run, steps);
      this.#run(
        'INSERT INTO inbound_webhook_deliveries (hook, delivery_id, run_id, event, received_at) VALUES (?, ?, ?, ?, ?)',
        delivery.hook,
        delivery.delivery_id,
        created.run.id,
        delivery.event,
        delivery.received_at,
      );
      return created;
    });
  }

  async getWebhookDelivery(hook: string, deliveryId: string): Promise<WebhookDelivery | undefined> {
    const row = this.#get(
      'SELECT * FROM inbound_webhook_deliveries WHERE hook = ? AND delivery_id = ?',
      hook,
      deliveryId,
    );
    return row
      ? {
          hook: String(row.hook),
          delivery_id: String(row.delivery_id),
          run_id: String(row.run_id),
          event: text(row.event),
          received_at: String(row.received_at),
        }
      : undefined;
  }

  async getRun(id: string): Promise<RunRecord | undefined> {
    const row = this.#get('SELECT * FROM workflow_runs WHERE id = ?', id);
    return row ? toRun(row) : undefined;
  }

  async listRuns(query: RunListQuery): Promise<{ items: RunRecord[]; next_cursor: string | null }> {
    return this.#pageBySeq('workflow_runs', { workflow: query.workflow, status: query.status }, query, toRun);
  }

  async listActiveRuns(): Promise<RunRecord[]> {
    return this.#all(`SELECT * FROM workflow_runs WHERE ${ACTIVE} ORDER BY seq`).map(toRun);
  }

  async getSteps(runId: string): Promise<StepRecord[]> {
    return this.#all('SELECT * FROM workflow_steps WHERE run_id = ? ORDER BY rowid, ifnull(item_index, -1)', runId).map(
      toStep,
    );
  }

  #putStep(s: StepRecord): void {
    const values: SQLInputValue[] = [
      s.status,
      s.attempts,
      s.attempt_base,
      s.started_at,
      s.finished_at,
      json(s.output),
      json(s.error),
      JSON.stringify(s.errors),
      s.pool,
      s.next_attempt_at,
      json(s.inputs),
      json(s.usage),
      s.item === undefined ? null : JSON.stringify(s.item),
    ];
    const updated = this.#run(
      `UPDATE workflow_steps SET status = ?, attempts = ?, attempt_base = ?, started_at = ?, finished_at = ?,
         output = ?, error = ?, errors = ?, pool = ?, next_attempt_at = ?, inputs = ?, usage = ?, item = ?
       WHERE run_id = ? AND name = ? AND ifnull(item_index, -1) = ?`,
      ...values,
      s.run_id,
      s.name,
      // The unique index is on this expression: `item_index IS ?` would scan every item of the step.
      s.item_index ?? -1,
    );
    if (updated === 0) {
      this.#run(
        `INSERT INTO workflow_steps (status, attempts, attempt_base, started_at, finished_at, output, error, errors,
           pool, next_attempt_at, inputs, usage, item, run_id, name, item_index)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        ...values,
        s.run_id,
        s.name,
        s.item_index,
      );
    }
  }

  apply(batch: WorkflowBatch): Promise<RunEvent[]> {
    return this.#base.write(() => {
      for (const r of batch.runs ?? []) {
        const changed = this.#run(
          `UPDATE workflow_runs SET status = ?, started_at = ?, finished_at = ?, error = ?, usage = ?, holders = ? WHERE id = ?${r.fence === undefined ? '' : ' AND adoption = ?'}`,
          r.status,
          r.started_at,
          r.finished_at,
          json(r.error),
          JSON.stringify(r.usage),
          r.holders,
          r.id,
          ...(r.fence === undefined ? [] : [r.fence]),
        );
        // Another worker took the run over: nothing of this batch may land (the savepoint rolls it back).
        if (r.fence !== undefined && changed === 0) throw new RunFencedError(r.id);
      }
      for (const d of batch.deleteItems ?? []) {
        this.#run(
          'DELETE FROM workflow_steps WHERE run_id = ? AND name = ? AND item_index IS NOT NULL',
          d.run_id,
          d.name,
        );
      }
      for (const s of batch.steps ?? []) this.#putStep(s);
      for (const d of batch.dlq ?? []) {
        this.#run(
          `INSERT INTO workflow_dlq (id, run_id, workflow, step, item_index, status, inputs, errors, context, created_at, resolved_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (id) DO UPDATE SET status = excluded.status, resolved_at = excluded.resolved_at`,
          d.id,
          d.run_id,
          d.workflow,
          d.step,
          d.item_index,
          d.status,
          JSON.stringify(d.inputs),
          JSON.stringify(d.errors),
          JSON.stringify(d.context),
          d.created_at,
          d.resolved_at,
        );
      }
      for (const w of batch.webhooks ?? []) {
        // Due now; the WebhookSender (tasks/webhooks.ts) signs, sends and retries it.
        this.#run(
          'INSERT INTO webhook_deliveries (task_id, url, payload, next_attempt_at) VALUES (?, ?, ?, ?)',
          w.run_id,
          w.url,
          w.payload,
          new Date().toISOString(),
        );
      }
      const insert = this.#base.prepare(
        `INSERT INTO workflow_run_events (run_id, seq, type, data, created_at)
         VALUES (?, (SELECT coalesce(max(seq), 0) + 1 FROM workflow_run_events WHERE run_id = ?), ?, ?, ?) RETURNING seq`,
      );
      return (batch.events ?? []).map((e) => {
        const row = insert.get(e.run_id, e.run_id, e.type, JSON.stringify(e.data ?? null), e.created_at) as Row;
        return { ...e, seq: Number(row.seq) };
      });
    });
  }

  async listRunEvents(runId: string, afterSeq: number, limit: number): Promise<RunEvent[]> {
    return this.#all(
      'SELECT * FROM workflow_run_events WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?',
      runId,
      afterSeq,
      limit,
    ).map(toEvent);
  }

  async getDlq(id: string): Promise<DlqEntry | undefined> {
    const row = this.#get('SELECT * FROM workflow_dlq WHERE id = ?', id);
    return row ? toDlq(row) : undefined;
  }

  async listDlq(query: { status?: DlqEntry['status']; run_id?: string; limit: number; cursor?: string }): Promise<{
    items: DlqEntry[];
    next_cursor: string | null;
  }> {
    return this.#pageBySeq('workflow_dlq', { status: query.status, run_id: query.run_id }, query, toDlq);
  }

  /** Newest first by seq; equality filters (undefined = any); the cursor is the last row's seq. */
  #pageBySeq<T>(
    table: 'workflow_runs' | 'workflow_dlq',
    filters: Record<string, string | undefined>,
    page: { limit: number; cursor?: string | undefined },
    map: (row: Row) => T,
  ): { items: T[]; next_cursor: string | null } {
    const where = ['seq < ?'];
    const params: SQLInputValue[] = [page.cursor === undefined ? Number.MAX_SAFE_INTEGER : Number(page.cursor)];
    for (const [column, value] of Object.entries(filters)) {
      if (value === undefined) continue;
      where.push(`${column} = ?`);
      params.push(value);
    }
    const rows = this.#all(
      `SELECT * FROM ${table} WHERE ${where.join(' AND ')} ORDER BY seq DESC LIMIT ?`,
      ...params,
      page.limit + 1,
    );
    const items = rows.slice(0, page.limit);
    return { items: items.map(map), next_cursor: rows.length > page.limit ? String(items.at(-1)!.seq) : null };
  }
}
