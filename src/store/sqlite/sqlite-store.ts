/**
 * The embedded Store: node:sqlite in WAL mode with synchronous=FULL, so an acknowledged write
 * survives a crash or power loss. SQLite specifics stay in this folder.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
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
import { json, parse, type Row, text, toTranscript } from './columns.ts';
import { GroupCommit } from './group-commit.ts';
import { migrate } from './migrate.ts';

function toTask(row: Row): TaskRecord {
  return {
    id: String(row.id),
    status: row.status as TaskStatus,
    request: parse<Record<string, unknown>>(row.request) ?? {},
    policy: parse<Record<string, unknown>>(row.policy) ?? {},
    response: text(row.response),
    result: parse<Record<string, unknown>>(row.result),
    error: parse<ErrorInfo>(row.error),
    created_at: String(row.created_at),
    started_at: text(row.started_at),
    finished_at: text(row.finished_at),
    attempts: Number(row.attempts),
    retry_safe: row.retry_safe === 1,
    idempotency_key: text(row.idempotency_key),
    agent_session_id: text(row.agent_session_id),
    pending_message: text(row.pending_message),
    metadata: parse<Record<string, unknown>>(row.metadata),
    webhook_url: text(row.webhook_url),
  };
}

export function openSqliteStore(dataDir: string): SqliteStore {
  fs.mkdirSync(dataDir, { recursive: true });
  const db = new DatabaseSync(path.join(dataDir, 'switchyard.db'), { timeout: 10_000 });
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('PRAGMA synchronous = FULL');
  db.exec('PRAGMA foreign_keys = ON');
  migrate(db);
  return new SqliteStore(db);
}

export class SqliteStore implements Store {
  readonly db: DatabaseSync;
  readonly #writes: GroupCommit;
  readonly #statements = new Map<string, StatementSync>();

  constructor(db: DatabaseSync) {
    this.db = db;
    this.#writes = new GroupCommit(db);
  }

  /** Runs `work` inside the shared group-committed write transaction; resolves once durable. */
  write<T>(work: () => T): Promise<T> {
    return this.#writes.run(work);
  }

  /** Prepared once per SQL text: preparing on every call was a measurable share of a submission. */
  prepare(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  #get(sql: string, ...params: SQLInputValue[]): Row | undefined {
    return this.prepare(sql).get(...params) as Row | undefined;
  }

  #all(sql: string, ...params: SQLInputValue[]): Row[] {
    return this.prepare(sql).all(...params) as Row[];
  }

  createTask(task: NewTask): Promise<CreateResult> {
    return this.#writes.run(() => {
      if (task.idempotency_key !== null) {
        const existing = this.#get('SELECT * FROM tasks WHERE idempotency_key = ?', task.idempotency_key);
        if (existing) {
          if (existing.idempotency_hash !== task.idempotency_hash) {
            throw new AppError('conflict', 'Idempotency-Key was already used with a different request', {
              field: 'Idempotency-Key',
            });
          }
          return { task: toTask(existing), created: false };
        }
      }
      const createdAt = new Date().toISOString();
      const row = this.#get(
        `INSERT INTO tasks (id, status, request, policy, created_at, queued_at, retry_safe, idempotency_key, idempotency_hash, metadata, webhook_url)
         VALUES (?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
        task.id,
        JSON.stringify(task.request),
        JSON.stringify(task.policy),
        createdAt,
        createdAt,
        task.retry_safe ? 1 : 0,
        task.idempotency_key,
        task.idempotency_hash,
        json(task.metadata),
        task.webhook_url,
      );
      return { task: toTask(row!), created: true };
    });
  }

  async getTask(id: string): Promise<TaskRecord | undefined> {
    const row = this.#get('SELECT * FROM tasks WHERE id = ?', id);
    return row ? toTask(row) : undefined;
  }

  async listTasks(query: TaskListQuery): Promise<{ items: TaskRecord[]; next_cursor: string | null }> {
    // Newest first; the cursor is the seq of the last item returned.
    const before = query.cursor === undefined ? Number.MAX_SAFE_INTEGER : Number(query.cursor);
    const rows = query.status
      ? this.#all(
          'SELECT * FROM tasks WHERE status = ? AND seq < ? ORDER BY seq DESC LIMIT ?',
          query.status,
          before,
          query.limit + 1,
        )
      : this.#all('SELECT * FROM tasks WHERE seq < ? ORDER BY seq DESC LIMIT ?', before, query.limit + 1);
    const page = rows.slice(0, query.limit);
    const next = rows.length > query.limit ? String(page.at(-1)!.seq) : null;
    return { items: page.map(toTask), next_cursor: next };
  }

  async countByStatus(status: TaskStatus): Promise<number> {
    return Number(this.#get('SELECT count(*) AS n FROM tasks WHERE status = ?', status)!.n);
  }

  claimNextTask(now: string): Promise<TaskRecord | undefined> {
    return this.#writes.run(() => {
      const row = this.#get(
        `UPDATE tasks SET status = 'running', started_at = coalesce(started_at, ?), attempts = attempts + 1
         WHERE seq = (SELECT seq FROM tasks WHERE status = 'queued' ORDER BY seq LIMIT 1) RETURNING *`,
        now,
      );
      return row ? toTask(row) : undefined;
    });
  }

  claimTask(id: string, now: string): Promise<TaskRecord | undefined> {
    return this.#writes.run(() => {
      const row = this.#get(
        `UPDATE tasks SET status = 'running', started_at = coalesce(started_at, ?), attempts = attempts + 1, retakes = 0
         WHERE id = ? AND status = 'queued' RETURNING *`,
        now,
        id,
      );
      return row ? toTask(row) : undefined;
    });
  }

  retakeTask(id: string, deadAttempt: number, now: string, maxRetakes: number): Promise<TaskRecord | undefined> {
    return this.#writes.run(() => {
      const row = this.#get(
        `UPDATE tasks SET attempts = attempts + 1, retakes = retakes + 1, started_at = coalesce(started_at, ?)
         WHERE id = ? AND status = 'running' AND attempts = ? AND retakes < ? RETURNING *`,
        now,
        id,
        deadAttempt,
        maxRetakes,
      );
      return row ? toTask(row) : undefined;
    });
  }

  async listQueuedTasks(queuedBefore: string, limit: number): Promise<string[]> {
    return this.#all(
      `SELECT id FROM tasks WHERE status = 'queued' AND coalesce(queued_at, created_at) < ? ORDER BY seq LIMIT ?`,
      queuedBefore,
      limit,
    ).map((r) => String(r.id));
  }

  setAgentSession(id: string, agentSessionId: string, attempt?: number): Promise<void> {
    return this.#writes.run(() => {
      this.prepare('UPDATE tasks SET agent_session_id = ? WHERE id = ? AND (? IS NULL OR attempts = ?)').run(
        agentSessionId,
        id,
        attempt ?? null,
        attempt ?? null,
      );
    });
  }

  finishTask(id: string, finish: TaskFinish, now: string, attempt?: number): Promise<boolean> {
    return this.#writes.run(() => {
      const info = this.prepare(
        `UPDATE tasks SET status = ?, response = ?, result = ?, error = ?, finished_at = ?, pending_message = NULL
           WHERE id = ? AND status NOT IN ('completed', 'failed') AND (? IS NULL OR attempts = ?)`,
      ).run(
        finish.status,
        finish.response,
        json(finish.result),
        json(finish.error),
        now,
        id,
        attempt ?? null,
        attempt ?? null,
      );
      return Number(info.changes) === 1;
    });
  }

  queueMessage(id: string, message: string): Promise<boolean> {
    return this.#writes.run(() => {
      // Moving to the back of the FIFO: a new seq would break cursors, so the claim order uses seq
      // and a follow-up simply waits its turn among tasks queued before it.
      const info = this.prepare(
        `UPDATE tasks SET status = 'queued', pending_message = ?, error = NULL, finished_at = NULL, queued_at = ?
           WHERE id = ? AND status IN ('completed', 'failed')`,
      ).run(message, new Date().toISOString(), id);
      return Number(info.changes) === 1;
    });
  }

  recoverInterrupted(now: string): Promise<RecoveryReport> {
    return this.#writes.run(() => {
      const requeued = this.#all(
        `UPDATE tasks SET status = 'queued', queued_at = ? WHERE status = 'running' AND retry_safe = 1 RETURNING id`,
        now,
      ).map((r) => String(r.id));
      const error: ErrorInfo = {
        kind: 'interrupted',
        message: 'the server stopped while this task was running',
        retryable: true,
      };
      const interrupted = this.#all(
        `UPDATE tasks SET status = 'failed', error = ?, finished_at = ? WHERE status = 'running' RETURNING id`,
        JSON.stringify(error),
        now,
      ).map((r) => String(r.id));
      return { requeued, interrupted };
    });
  }

  appendEvents(events: Array<Omit<TaskEvent, 'seq'>>, attempt?: number): Promise<TaskEvent[]> {
    return this.#writes.run(() => {
      if (attempt !== undefined) {
        const at = this.prepare('SELECT status, attempts FROM tasks WHERE id = ?');
        const stale = new Set(events.map((e) => e.task_id)).values().some((id) => {
          const row = at.get(id) as Row | undefined;
          // A cancel ends the task before its run hears of it: the attempt's events stop there.
          return row?.status !== 'running' || Number(row.attempts) !== attempt;
        });
        if (stale) return [];
      }
      const insert = this.prepare(
        `INSERT INTO task_events (task_id, seq, type, data, created_at)
         VALUES (?, (SELECT coalesce(max(seq), 0) + 1 FROM task_events WHERE task_id = ?), ?, ?, ?) RETURNING seq`,
      );
      return events.map((e) => {
        const row = insert.get(e.task_id, e.task_id, e.type, JSON.stringify(e.data ?? null), e.created_at) as Row;
        return { ...e, seq: Number(row.seq) };
      });
    });
  }

  async listEvents(taskId: string, afterSeq: number, limit: number): Promise<TaskEvent[]> {
    return this.#all(
      'SELECT * FROM task_events WHERE task_id = ? AND seq > ? ORDER BY seq LIMIT ?',
      taskId,
      afterSeq,
      limit,
    ).map((r) => ({
      task_id: String(r.task_id),
      seq: Number(r.seq),
      type: String(r.type),
      data: parse(r.data),
      created_at: String(r.created_at),
    }));
  }

  addWebhookDelivery(taskId: string, url: string, payload: string, now: string): Promise<void> {
    return this.#writes.run(() => {
      this.prepare('INSERT INTO webhook_deliveries (task_id, url, payload, next_attempt_at) VALUES (?, ?, ?, ?)').run(
        taskId,
        url,
        payload,
        now,
      );
    });
  }

  async dueWebhookDeliveries(now: string, limit: number, leaseUntil: string): Promise<WebhookDelivery[]> {
    const due =
      'SELECT id FROM webhook_deliveries WHERE next_attempt_at IS NOT NULL AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?';
    // A read first: the sender polls every second, and an idle poll must not cost a durable write.
    if (this.#all(due, now, limit).length === 0) return [];
    const rows = await this.#writes.run(
      () =>
        this.prepare(`UPDATE webhook_deliveries SET next_attempt_at = ? WHERE id IN (${due}) RETURNING *`).all(
          leaseUntil,
          now,
          limit,
        ) as Row[],
    );
    return rows.map(toDelivery).sort((a, b) => a.id - b.id);
  }

  recordWebhookAttempt(id: number, ok: boolean, nextAttemptAt: string | null, lastError: string | null): Promise<void> {
    return this.#writes.run(() => {
      this.prepare(
        `UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?,
           delivered_at = CASE WHEN ? THEN ? ELSE delivered_at END WHERE id = ?`,
      ).run(nextAttemptAt, lastError, ok ? 1 : 0, ok ? new Date().toISOString() : null, id);
    });
  }

  saveTranscript(t: TaskTranscript, attempt: number): Promise<boolean> {
    return this.#writes.run(() => {
      const info = this.prepare(
        `INSERT INTO task_transcripts (task_id, session_id, content, size, updated_at)
           SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM tasks WHERE id = ? AND attempts = ?)
         ON CONFLICT (task_id) DO UPDATE SET session_id = excluded.session_id, content = excluded.content,
           size = excluded.size, updated_at = excluded.updated_at`,
      ).run(t.task_id, t.session_id, t.content, t.size, t.updated_at, t.task_id, attempt);
      return Number(info.changes) === 1;
    });
  }

  async getTranscript(taskId: string): Promise<TaskTranscript | undefined> {
    const row = this.#get('SELECT * FROM task_transcripts WHERE task_id = ?', taskId);
    return row ? toTranscript(row) : undefined;
  }

  async close(): Promise<void> {
    // Let writes already queued in this tick commit before closing.
    await this.#writes.run(() => undefined);
    this.db.close();
  }
}

function toDelivery(r: Row): WebhookDelivery {
  return {
    id: Number(r.id),
    task_id: String(r.task_id),
    url: String(r.url),
    payload: String(r.payload),
    attempts: Number(r.attempts),
    next_attempt_at: String(r.next_attempt_at),
  };
}
