/**
 * The PostgreSQL Store, for several Switchyard processes sharing one database. Same contract as the
 * SQLite store (test/contract/store.test.ts runs on both); what differs is how it stays correct when
 * other processes write at the same time:
 * - claims take the oldest queued task with FOR UPDATE SKIP LOCKED, so two processes never get one task;
 * - an idempotency key is settled by the unique index (INSERT … ON CONFLICT DO NOTHING), not by a read first;
 * - event numbers come from max(seq) + 1 under a per-task transaction advisory lock, so concurrent
 *   appenders queue instead of colliding, and no number is skipped.
 * PostgreSQL itself makes a commit durable before it returns (synchronous_commit, its own group commit).
 */
import pg, { type Pool, type PoolClient } from 'pg';
import { AppError, type ErrorInfo } from '../../errors.ts';
import type {
  CreateResult,
  NewTask,
  RecoveryReport,
  Store,
  TaskEvent,
  TaskFinish,
  TaskListQuery,
  TaskRecord,
  TaskStatus,
  TaskTranscript,
  WebhookDelivery,
} from '../store.ts';
import { freeText, json, parse, type Row, readFreeText, text, toTranscript } from './columns.ts';
import { migrate } from './migrate.ts';

/** Namespaces of transaction advisory locks (the first key of the two-key form). */
export const LOCK_TASK_EVENTS = 1;
export const LOCK_RUN_EVENTS = 2;
export const LOCK_WORKFLOW = 3;

/** Past every seq: the first page of a newest-first list (cursors are checked upstream: ≤ 18 digits). */
export const NO_CURSOR = '9223372036854775807';

function toTask(row: Row): TaskRecord {
  return {
    id: String(row.id),
    status: row.status as TaskStatus,
    request: parse<Record<string, unknown>>(row.request) ?? {},
    policy: parse<Record<string, unknown>>(row.policy) ?? {},
    response: readFreeText(row.response),
    result: parse<Record<string, unknown>>(row.result),
    error: parse<ErrorInfo>(row.error),
    created_at: String(row.created_at),
    started_at: text(row.started_at),
    finished_at: text(row.finished_at),
    attempts: Number(row.attempts),
    retry_safe: row.retry_safe === true,
    idempotency_key: text(row.idempotency_key),
    agent_session_id: text(row.agent_session_id),
    pending_message: readFreeText(row.pending_message),
    metadata: parse<Record<string, unknown>>(row.metadata),
    webhook_url: text(row.webhook_url),
  };
}

export interface PostgresOptions {
  /** Connections in this process's pool. */
  max?: number;
  /** Runs after the pool has closed (the server lock's release: server-lock.ts). */
  onClose?: () => Promise<void>;
}

/** Connects, applies pending migrations (safe when several processes start at once) and returns the store. */
export async function openPostgresStore(url: string, options: PostgresOptions = {}): Promise<PostgresStore> {
  // application_name: how an operator tells Switchyard's sessions apart in pg_stat_activity.
  const pool = new pg.Pool({ connectionString: url, max: options.max ?? 10, application_name: 'switchyard' });
  // An idle connection the server drops (restart, idle timeout) emits here; without a listener it would
  // end the process. The pool discards it and the next query opens a fresh one.
  pool.on('error', () => undefined);
  try {
    await migrate(pool);
  } catch (err) {
    await pool.end();
    throw err;
  }
  return new PostgresStore(pool, options.onClose);
}

export class PostgresStore implements Store {
  readonly pool: Pool;
  #claimsWaiting: Array<{
    now: string;
    resolve: (task: TaskRecord | undefined) => void;
    reject: (err: unknown) => void;
  }> = [];
  #claiming = false;
  readonly #onClose: (() => Promise<void>) | undefined;

  constructor(pool: Pool, onClose?: () => Promise<void>) {
    this.pool = pool;
    this.#onClose = onClose;
  }

  async #one(sql: string, params: unknown[] = []): Promise<Row | undefined> {
    return (await this.pool.query(sql, params)).rows[0];
  }

  async #all(sql: string, params: unknown[] = []): Promise<Row[]> {
    return (await this.pool.query(sql, params)).rows;
  }

  /** Runs `work` in one transaction on one connection; rolls back if it throws. */
  async transaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    // The pool listens for errors only on idle clients: a checked-out one whose server goes away (a
    // PostgreSQL restart) would emit 'error' with nobody listening and end the process. The queries
    // fail with it all the same, so this listener only has to exist.
    const lost = () => undefined;
    client.on('error', lost);
    try {
      await client.query('BEGIN');
      const value = await work(client);
      await client.query('COMMIT');
      client.off('error', lost);
      client.release();
      return value;
    } catch (err) {
      // A connection that cannot roll back is broken: discard it rather than return it to the pool.
      const broken = await client.query('ROLLBACK').then(
        () => undefined,
        (e: Error) => e,
      );
      client.off('error', lost);
      client.release(broken);
      throw err;
    }
  }

  async createTask(task: NewTask): Promise<CreateResult> {
    const row = await this.#one(
      `INSERT INTO tasks (id, status, request, policy, created_at, queued_at, retry_safe, idempotency_key, idempotency_hash, metadata, webhook_url)
       VALUES ($1, 'queued', $2, $3, $4, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (idempotency_key) DO NOTHING RETURNING *`,
      [
        task.id,
        JSON.stringify(task.request),
        JSON.stringify(task.policy),
        new Date().toISOString(),
        task.retry_safe,
        task.idempotency_key,
        task.idempotency_hash,
        json(task.metadata),
        task.webhook_url,
      ],
    );
    if (row) return { task: toTask(row), created: true };
    // The key was taken (by this process or another, committed before the insert finished).
    const existing = await this.#one('SELECT * FROM tasks WHERE idempotency_key = $1', [task.idempotency_key]);
    if (!existing || existing.idempotency_hash !== task.idempotency_hash) {
      throw new AppError('conflict', 'Idempotency-Key was already used with a different request', {
        field: 'Idempotency-Key',
      });
    }
    return { task: toTask(existing), created: false };
  }

  async getTask(id: string): Promise<TaskRecord | undefined> {
    const row = await this.#one('SELECT * FROM tasks WHERE id = $1', [id]);
    return row ? toTask(row) : undefined;
  }

  async listTasks(query: TaskListQuery): Promise<{ items: TaskRecord[]; next_cursor: string | null }> {
    // Newest first; the cursor is the seq of the last item returned.
    const before = query.cursor ?? NO_CURSOR;
    const rows = query.status
      ? await this.#all('SELECT * FROM tasks WHERE status = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3', [
          query.status,
          before,
          query.limit + 1,
        ])
      : await this.#all('SELECT * FROM tasks WHERE seq < $1 ORDER BY seq DESC LIMIT $2', [before, query.limit + 1]);
    const page = rows.slice(0, query.limit);
    const next = rows.length > query.limit ? String(page.at(-1)!.seq) : null;
    return { items: page.map(toTask), next_cursor: next };
  }

  async countByStatus(status: TaskStatus): Promise<number> {
    return Number((await this.#one('SELECT count(*) AS n FROM tasks WHERE status = $1', [status]))!.n);
  }

  claimNextTask(now: string): Promise<TaskRecord | undefined> {
    return new Promise((resolve, reject) => {
      this.#claimsWaiting.push({ now, resolve, reject });
      void this.#claimWaiting();
    });
  }

  /**
   * Claims issued while one is in flight go together in the next statement, oldest task to the earliest
   * claim: FIFO within this process, one round trip (and one commit) for a burst of claims.
   */
  async #claimWaiting(): Promise<void> {
    if (this.#claiming) return;
    this.#claiming = true;
    try {
      while (this.#claimsWaiting.length > 0) {
        const batch = this.#claimsWaiting.splice(0);
        const now = batch.map((c) => c.now).sort()[0]!;
        try {
          // SKIP LOCKED: tasks another process is claiming right now are passed over, not waited for.
          const rows = await this.#all(
            `UPDATE tasks SET status = 'running', started_at = coalesce(started_at, $1), attempts = attempts + 1
             WHERE seq IN (SELECT seq FROM tasks WHERE status = 'queued' ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED)
             RETURNING *`,
            [now, batch.length],
          );
          rows.sort((a, b) => Number(a.seq) - Number(b.seq));
          batch.forEach((c, i) => {
            c.resolve(rows[i] ? toTask(rows[i]) : undefined);
          });
        } catch (err) {
          for (const c of batch) c.reject(err);
        }
      }
    } finally {
      this.#claiming = false;
    }
  }

  async claimTask(id: string, now: string): Promise<TaskRecord | undefined> {
    const row = await this.#one(
      `UPDATE tasks SET status = 'running', started_at = coalesce(started_at, $1), attempts = attempts + 1, retakes = 0
       WHERE id = $2 AND status = 'queued' RETURNING *`,
      [now, id],
    );
    return row ? toTask(row) : undefined;
  }

  async retakeTask(id: string, deadAttempt: number, now: string, maxRetakes: number): Promise<TaskRecord | undefined> {
    const row = await this.#one(
      `UPDATE tasks SET attempts = attempts + 1, retakes = retakes + 1, started_at = coalesce(started_at, $1)
       WHERE id = $2 AND status = 'running' AND attempts = $3 AND retakes < $4 RETURNING *`,
      [now, id, deadAttempt, maxRetakes],
    );
    return row ? toTask(row) : undefined;
  }

  async listQueuedTasks(queuedBefore: string, limit: number): Promise<string[]> {
    return (
      await this.#all(
        `SELECT id FROM tasks WHERE status = 'queued' AND coalesce(queued_at, created_at) < $1 ORDER BY seq LIMIT $2`,
        [queuedBefore, limit],
      )
    ).map((r) => String(r.id));
  }

  async setAgentSession(id: string, agentSessionId: string, attempt?: number): Promise<void> {
    await this.pool.query(
      'UPDATE tasks SET agent_session_id = $1 WHERE id = $2 AND ($3::integer IS NULL OR attempts = $3)',
      [agentSessionId, id, attempt ?? null],
    );
  }

  async finishTask(id: string, finish: TaskFinish, now: string, attempt?: number): Promise<boolean> {
    const result = await this.pool.query(
      `UPDATE tasks SET status = $1, response = $2, result = $3, error = $4, finished_at = $5, pending_message = NULL
         WHERE id = $6 AND status NOT IN ('completed', 'failed') AND ($7::integer IS NULL OR attempts = $7)`,
      [finish.status, freeText(finish.response), json(finish.result), json(finish.error), now, id, attempt ?? null],
    );
    return result.rowCount === 1;
  }

  async queueMessage(id: string, message: string): Promise<boolean> {
    // Back in the FIFO at its old seq (a new seq would break cursors), as in the SQLite store.
    const result = await this.pool.query(
      `UPDATE tasks SET status = 'queued', pending_message = $1, error = NULL, finished_at = NULL, queued_at = $3
         WHERE id = $2 AND status IN ('completed', 'failed')`,
      [freeText(message), id, new Date().toISOString()],
    );
    return result.rowCount === 1;
  }

  recoverInterrupted(now: string): Promise<RecoveryReport> {
    // Single-process recovery, as today: every running task is this server's own. Issue 9's leases and
    // worker heartbeats replace this once several processes claim from one database.
    return this.transaction(async (c) => {
      const requeued = (
        await c.query(
          `UPDATE tasks SET status = 'queued', queued_at = $1 WHERE status = 'running' AND retry_safe RETURNING id`,
          [now],
        )
      ).rows.map((r: Row) => String(r.id));
      const error: ErrorInfo = {
        kind: 'interrupted',
        message: 'the server stopped while this task was running',
        retryable: true,
      };
      const interrupted = (
        await c.query(
          `UPDATE tasks SET status = 'failed', error = $1, finished_at = $2 WHERE status = 'running' RETURNING id`,
          [JSON.stringify(error), now],
        )
      ).rows.map((r: Row) => String(r.id));
      return { requeued, interrupted };
    });
  }

  appendEvents(events: Array<Omit<TaskEvent, 'seq'>>, attempt?: number): Promise<TaskEvent[]> {
    if (events.length === 0) return Promise.resolve([]);
    return this.transaction(async (c) => {
      for (const taskId of [...new Set(events.map((e) => e.task_id))].sort()) {
        await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_TASK_EVENTS, taskId]);
        if (attempt === undefined) continue;
        // FOR SHARE: a retake (attempts + 1) waits for these events to commit, or they see it and stop.
        const { rows } = await c.query('SELECT status, attempts FROM tasks WHERE id = $1 FOR SHARE', [taskId]);
        // A cancel from another node ends the task before this worker hears of it: its events stop there.
        if (rows[0]?.status !== 'running' || Number(rows[0]?.attempts) !== attempt) return [];
      }
      const saved: TaskEvent[] = [];
      for (const e of events) {
        const { rows } = await c.query(
          `INSERT INTO task_events (task_id, seq, type, data, created_at)
           VALUES ($1, (SELECT coalesce(max(seq), 0) + 1 FROM task_events WHERE task_id = $1), $2, $3, $4) RETURNING seq`,
          [e.task_id, e.type, JSON.stringify(e.data ?? null), e.created_at],
        );
        saved.push({ ...e, seq: Number(rows[0].seq) });
      }
      return saved;
    });
  }

  async listEvents(taskId: string, afterSeq: number, limit: number): Promise<TaskEvent[]> {
    return (
      await this.#all('SELECT * FROM task_events WHERE task_id = $1 AND seq > $2 ORDER BY seq LIMIT $3', [
        taskId,
        afterSeq,
        limit,
      ])
    ).map((r) => ({
      task_id: String(r.task_id),
      seq: Number(r.seq),
      type: String(r.type),
      data: parse(r.data),
      created_at: String(r.created_at),
    }));
  }

  async addWebhookDelivery(taskId: string, url: string, payload: string, now: string): Promise<void> {
    await this.pool.query(
      'INSERT INTO webhook_deliveries (task_id, url, payload, next_attempt_at) VALUES ($1, $2, $3, $4)',
      [taskId, url, payload, now],
    );
  }

  async dueWebhookDeliveries(now: string, limit: number, leaseUntil: string): Promise<WebhookDelivery[]> {
    // SKIP LOCKED: rows another process is claiming right now are passed over; the lease in the same
    // statement keeps them from being due again for anyone until the sender records its attempt.
    const rows = await this.#all(
      `UPDATE webhook_deliveries SET next_attempt_at = $3
       WHERE id IN (SELECT id FROM webhook_deliveries WHERE next_attempt_at IS NOT NULL AND next_attempt_at <= $1
                    ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED)
       RETURNING *`,
      [now, limit, leaseUntil],
    );
    return rows
      .map((r) => ({
        id: Number(r.id),
        task_id: String(r.task_id),
        url: String(r.url),
        payload: String(r.payload),
        attempts: Number(r.attempts),
        next_attempt_at: String(r.next_attempt_at),
      }))
      .sort((a, b) => a.id - b.id);
  }

  async recordWebhookAttempt(
    id: number,
    ok: boolean,
    nextAttemptAt: string | null,
    lastError: string | null,
  ): Promise<void> {
    await this.pool.query(
      `UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = $1, last_error = $2,
         delivered_at = CASE WHEN $3::boolean THEN $4 ELSE delivered_at END WHERE id = $5`,
      [nextAttemptAt, freeText(lastError), ok, ok ? new Date().toISOString() : null, id],
    );
  }

  async saveTranscript(t: TaskTranscript, attempt: number): Promise<boolean> {
    const result = await this.pool.query(
      `INSERT INTO task_transcripts (task_id, session_id, content, size, updated_at)
         SELECT $1, $2, $3, $4, $5 FROM tasks WHERE id = $1 AND attempts = $6 FOR SHARE
       ON CONFLICT (task_id) DO UPDATE SET session_id = excluded.session_id, content = excluded.content,
         size = excluded.size, updated_at = excluded.updated_at`,
      [t.task_id, t.session_id, t.content === null ? null : Buffer.from(t.content), t.size, t.updated_at, attempt],
    );
    return result.rowCount === 1;
  }

  async getTranscript(taskId: string): Promise<TaskTranscript | undefined> {
    const row = await this.#one('SELECT * FROM task_transcripts WHERE task_id = $1', [taskId]);
    return row ? toTranscript(row) : undefined;
  }

  async close(): Promise<void> {
    // Waits for queries in flight, then closes every connection.
    await this.pool.end();
    await this.#onClose?.();
  }
}
