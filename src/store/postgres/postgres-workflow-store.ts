/**
 * The PostgreSQL WorkflowStore: the tables of migration 002 in the same database as the tasks, sharing
 * PostgresStore's pool. Each write is one transaction, so a WorkflowBatch (a step's completion, the steps
 * it releases, their events and DLQ entries) commits whole or not at all, whichever process writes it.
 */
import type { PoolClient } from 'pg';
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
import { freeText, json, type Row, readFreeText } from './columns.ts';
import { PostgresRunClusterStore } from './postgres-run-cluster-store.ts';
import { PostgresScheduleStore } from './postgres-schedule-store.ts';
import { LOCK_RUN_EVENTS, LOCK_WORKFLOW, NO_CURSOR, type PostgresStore } from './postgres-store.ts';

/** Runs that have not ended. */
const ACTIVE = "status NOT IN ('completed', 'failed')";

export class PostgresWorkflowStore implements WorkflowStore {
  readonly #base: PostgresStore;
  readonly #schedules: ScheduleStore;
  readonly #cluster: RunClusterStore;
  #deliveries: Promise<unknown> = Promise.resolve();
  /** Per run, the last transition handed to apply() (settled or not): the next one of that run waits for it. */
  readonly #applying = new Map<string, Promise<unknown>>();

  constructor(base: PostgresStore) {
    this.#base = base;
    this.#schedules = new PostgresScheduleStore(base);
    this.#cluster = new PostgresRunClusterStore(base);
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

  async #one(sql: string, params: unknown[] = []): Promise<Row | undefined> {
    return (await this.#base.pool.query(sql, params)).rows[0];
  }

  async #all(sql: string, params: unknown[] = []): Promise<Row[]> {
    return (await this.#base.pool.query(sql, params)).rows;
  }

  putWorkflow(w: {
    name: string;
    source: string;
    definition: WorkflowDefinition;
    updated_at: string;
  }): Promise<WorkflowRecord> {
    return this.#base.transaction(async (c) => {
      // Two processes loading the same definitions at start must not both bump the version.
      await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_WORKFLOW, w.name]);
      const definition = JSON.stringify(w.definition);
      const existing: Row | undefined = (await c.query('SELECT * FROM workflows WHERE name = $1', [w.name])).rows[0];
      if (existing && existing.definition === definition && existing.source === w.source) return toWorkflow(existing);
      const version = existing ? Number(existing.version) + (existing.definition === definition ? 0 : 1) : 1;
      const { rows } = await c.query(
        `INSERT INTO workflows (name, version, source, definition, updated_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (name) DO UPDATE SET version = excluded.version, source = excluded.source,
           definition = excluded.definition, updated_at = excluded.updated_at
         RETURNING *`,
        [w.name, version, w.source, definition, w.updated_at],
      );
      return toWorkflow(rows[0]);
    });
  }

  async getWorkflow(name: string): Promise<WorkflowRecord | undefined> {
    const row = await this.#one('SELECT * FROM workflows WHERE name = $1', [name]);
    return row ? toWorkflow(row) : undefined;
  }

  async listWorkflows(): Promise<WorkflowRecord[]> {
    // COLLATE "C": the byte order SQLite sorts by, whatever the database's locale.
    return (await this.#all('SELECT * FROM workflows ORDER BY name COLLATE "C"')).map(toWorkflow);
  }

  createRun(run: NewRun, steps: StepRecord[]): Promise<{ run: RunRecord; created: boolean }> {
    return this.#base.transaction((c) => insertRun(c, run, steps));
  }

  createRunForDelivery(
    delivery: Omit<WebhookDelivery, 'run_id'>,
    run: NewRun,
    steps: StepRecord[],
  ): Promise<{ run: RunRecord; created: boolean }> {
    // One transaction for the delivery row and the run: a crash before COMMIT leaves neither (the sender,
    // unanswered, delivers again), after it both. The delivery row goes in first, keyed: the same delivery
    // arriving at two processes at once waits on the other's insert, then finds its row and run. Within
    // this process deliveries go one at a time, so the first to arrive is the one that starts the run.
    const next = this.#deliveries.then(() =>
      this.#base.transaction(async (c) => {
        const claimed = await c.query(
          `INSERT INTO inbound_webhook_deliveries (hook, delivery_id, run_id, event, received_at)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
          [delivery.hook, delivery.delivery_id, run.id, freeText(delivery.event), delivery.received_at],
        );
        if (claimed.rowCount === 0) {
          const { rows } = await c.query(
            `SELECT r.* FROM inbound_webhook_deliveries d JOIN workflow_runs r ON r.id = d.run_id
           WHERE d.hook = $1 AND d.delivery_id = $2`,
            [delivery.hook, delivery.delivery_id],
          );
          if (!rows[0]) throw new Error(`webhook delivery ${delivery.delivery_id} is recorded without its run`);
          return { run: toRun(rows[0]), created: false };
        }
        const created = await insertRun(c, run, steps);
        // An idempotency key can hand back an earlier run: the delivery then points at that one.
        if (created.run.id !== run.id) {
          await c.query('UPDATE inbound_webhook_deliveries SET run_id = $1 WHERE hook = $2 AND delivery_id = $3', [
            created.run.id,
            delivery.hook,
            delivery.delivery_id,
          ]);
        }
        return created;
      }),
    );
    this.#deliveries = next.catch(() => undefined);
    return next;
  }

  async getWebhookDelivery(hook: string, deliveryId: string): Promise<WebhookDelivery | undefined> {
    const row = await this.#one('SELECT * FROM inbound_webhook_deliveries WHERE hook = $1 AND delivery_id = $2', [
      hook,
      deliveryId,
    ]);
    return row
      ? {
          hook: String(row.hook),
          delivery_id: String(row.delivery_id),
          run_id: String(row.run_id),
          event: readFreeText(row.event),
          received_at: String(row.received_at),
        }
      : undefined;
  }

  async getRun(id: string): Promise<RunRecord | undefined> {
    const row = await this.#one('SELECT * FROM workflow_runs WHERE id = $1', [id]);
    return row ? toRun(row) : undefined;
  }

  listRuns(query: RunListQuery): Promise<{ items: RunRecord[]; next_cursor: string | null }> {
    return this.#pageBySeq('workflow_runs', { workflow: query.workflow, status: query.status }, query, toRun);
  }

  async listActiveRuns(): Promise<RunRecord[]> {
    return (await this.#all(`SELECT * FROM workflow_runs WHERE ${ACTIVE} ORDER BY seq`)).map(toRun);
  }

  async getSteps(runId: string): Promise<StepRecord[]> {
    return (await this.#all('SELECT * FROM workflow_steps WHERE run_id = $1 ORDER BY seq', [runId])).map(toStep);
  }

  /**
   * Transitions of a run commit in the order they were handed in, as SQLite's single writer does: on a
   * pool, two transactions in flight at once may commit either way round, and the older one would then
   * overwrite a step's newer state (a step left `running` in a run already `failed`).
   */
  apply(batch: WorkflowBatch): Promise<RunEvent[]> {
    const runIds = runIdsOf(batch);
    const before = runIds.map((id) => this.#applying.get(id));
    const applied = Promise.allSettled(before).then(() => this.#applyNow(batch));
    const settled = applied.catch(() => undefined);
    for (const id of runIds) this.#applying.set(id, settled);
    void settled.then(() => {
      for (const id of runIds) if (this.#applying.get(id) === settled) this.#applying.delete(id);
    });
    return applied;
  }

  #applyNow(batch: WorkflowBatch): Promise<RunEvent[]> {
    return this.#base.transaction(async (c) => {
      for (const r of batch.runs ?? []) {
        const fenced = r.fence === undefined ? '' : ' AND adoption = $8';
        const changed = await c.query(
          `UPDATE workflow_runs SET status = $1, started_at = $2, finished_at = $3, error = $4, usage = $5, holders = $6 WHERE id = $7${fenced}`,
          [
            r.status,
            r.started_at,
            r.finished_at,
            json(r.error),
            JSON.stringify(r.usage),
            r.holders,
            r.id,
            ...(r.fence === undefined ? [] : [r.fence]),
          ],
        );
        // Another worker took the run over: the whole batch rolls back. (The row lock this UPDATE takes
        // holds a concurrent adoptRun until the commit, so the fence cannot move in between.)
        if (r.fence !== undefined && changed.rowCount === 0) throw new RunFencedError(r.id);
      }
      for (const d of batch.deleteItems ?? []) {
        await c.query('DELETE FROM workflow_steps WHERE run_id = $1 AND name = $2 AND item_index IS NOT NULL', [
          d.run_id,
          d.name,
        ]);
      }
      for (const s of batch.steps ?? []) await putStep(c, s);
      for (const d of batch.dlq ?? []) {
        await c.query(
          `INSERT INTO workflow_dlq (id, run_id, workflow, step, item_index, status, inputs, errors, context, created_at, resolved_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
           ON CONFLICT (id) DO UPDATE SET status = excluded.status, resolved_at = excluded.resolved_at`,
          [
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
          ],
        );
      }
      for (const w of batch.webhooks ?? []) {
        // Due now; the WebhookSender (tasks/webhooks.ts) signs, sends and retries it.
        await c.query(
          'INSERT INTO webhook_deliveries (task_id, url, payload, next_attempt_at) VALUES ($1, $2, $3, $4)',
          [w.run_id, w.url, w.payload, new Date().toISOString()],
        );
      }
      const events = batch.events ?? [];
      // Runs in a fixed order, so two batches locking the same runs cannot deadlock.
      for (const runId of [...new Set(events.map((e) => e.run_id))].sort()) {
        await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_RUN_EVENTS, runId]);
      }
      const saved: RunEvent[] = [];
      for (const e of events) {
        const { rows } = await c.query(
          `INSERT INTO workflow_run_events (run_id, seq, type, data, created_at)
           VALUES ($1, (SELECT coalesce(max(seq), 0) + 1 FROM workflow_run_events WHERE run_id = $1), $2, $3, $4)
           RETURNING seq`,
          [e.run_id, e.type, JSON.stringify(e.data ?? null), e.created_at],
        );
        saved.push({ ...e, seq: Number(rows[0].seq) });
      }
      return saved;
    });
  }

  async listRunEvents(runId: string, afterSeq: number, limit: number): Promise<RunEvent[]> {
    return (
      await this.#all('SELECT * FROM workflow_run_events WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3', [
        runId,
        afterSeq,
        limit,
      ])
    ).map(toEvent);
  }

  async getDlq(id: string): Promise<DlqEntry | undefined> {
    const row = await this.#one('SELECT * FROM workflow_dlq WHERE id = $1', [id]);
    return row ? toDlq(row) : undefined;
  }

  listDlq(query: { status?: DlqEntry['status']; run_id?: string; limit: number; cursor?: string }): Promise<{
    items: DlqEntry[];
    next_cursor: string | null;
  }> {
    return this.#pageBySeq('workflow_dlq', { status: query.status, run_id: query.run_id }, query, toDlq);
  }

  /** Newest first by seq; equality filters (undefined = any); the cursor is the last row's seq. */
  async #pageBySeq<T>(
    table: 'workflow_runs' | 'workflow_dlq',
    filters: Record<string, string | undefined>,
    page: { limit: number; cursor?: string | undefined },
    map: (row: Row) => T,
  ): Promise<{ items: T[]; next_cursor: string | null }> {
    const params: unknown[] = [page.cursor ?? NO_CURSOR];
    const where = ['seq < $1'];
    for (const [column, value] of Object.entries(filters)) {
      if (value === undefined) continue;
      params.push(value);
      where.push(`${column} = $${params.length}`);
    }
    params.push(page.limit + 1);
    const rows = await this.#all(
      `SELECT * FROM ${table} WHERE ${where.join(' AND ')} ORDER BY seq DESC LIMIT $${params.length}`,
      params,
    );
    const items = rows.slice(0, page.limit);
    return { items: items.map(map), next_cursor: rows.length > page.limit ? String(items.at(-1)!.seq) : null };
  }
}

/**
 * Inserts a queued run and its steps, or returns the run an earlier request with the same idempotency key
 * made (settled by the unique index: a concurrent insert of the key is waited for, then found).
 */
/** Every run a transition writes to. */
function runIdsOf(batch: WorkflowBatch): string[] {
  const ids = new Set<string>();
  for (const r of batch.runs ?? []) ids.add(r.id);
  for (const rows of [batch.steps, batch.deleteItems, batch.events, batch.dlq, batch.webhooks]) {
    for (const row of rows ?? []) ids.add(row.run_id);
  }
  return [...ids];
}

async function insertRun(
  c: PoolClient,
  run: NewRun,
  steps: StepRecord[],
): Promise<{ run: RunRecord; created: boolean }> {
  const { rows } = await c.query(
    `INSERT INTO workflow_runs (id, workflow, version, definition, status, inputs, idempotency_key, idempotency_hash,
       created_at, usage, run_trigger)
     VALUES ($1, $2, $3, $4, 'queued', $5, $6, $7, $8, $9, $10)
     ON CONFLICT (idempotency_key) DO NOTHING RETURNING *`,
    [
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
    ],
  );
  if (rows[0]) {
    for (const step of steps) await putStep(c, step);
    return { run: toRun(rows[0]), created: true };
  }
  const existing: Row | undefined = (
    await c.query('SELECT * FROM workflow_runs WHERE idempotency_key = $1', [run.idempotency_key])
  ).rows[0];
  if (!existing || existing.idempotency_hash !== run.idempotency_hash) {
    throw new AppError('conflict', 'Idempotency-Key was already used with a different request', {
      field: 'Idempotency-Key',
    });
  }
  return { run: toRun(existing), created: false };
}

/** Inserts or replaces a step or item row; a replaced row keeps its place (seq) in getSteps' order. */
async function putStep(c: PoolClient, s: StepRecord): Promise<void> {
  await c.query(
    `INSERT INTO workflow_steps (run_id, name, item_index, status, attempts, attempt_base, started_at, finished_at,
       output, error, errors, pool, next_attempt_at, inputs, usage, item)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
     ON CONFLICT (run_id, name, (coalesce(item_index, -1))) DO UPDATE SET status = excluded.status,
       attempts = excluded.attempts, attempt_base = excluded.attempt_base, started_at = excluded.started_at,
       finished_at = excluded.finished_at, output = excluded.output, error = excluded.error, errors = excluded.errors,
       pool = excluded.pool, next_attempt_at = excluded.next_attempt_at, inputs = excluded.inputs,
       usage = excluded.usage, item = excluded.item`,
    [
      s.run_id,
      s.name,
      s.item_index,
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
    ],
  );
}
