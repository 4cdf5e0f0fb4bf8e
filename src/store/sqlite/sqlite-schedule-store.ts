/**
 * The ScheduleStore on SQLite (tables of migration 004), writing through SqliteStore's durable group
 * commit. SqliteWorkflowStore delegates its schedule methods here.
 */
import type { SQLInputValue } from 'node:sqlite';
import type {
  FireKey,
  FireOutcome,
  FireStatus,
  ScheduleFire,
  ScheduleKey,
  ScheduleState,
  ScheduleStore,
} from '../schedule-store.ts';
import { type Row, text } from './columns.ts';
import type { SqliteStore } from './sqlite-store.ts';

function toSchedule(row: Row): ScheduleState {
  return {
    workflow: String(row.workflow),
    trigger_id: String(row.trigger_id),
    cron: String(row.cron),
    timezone: String(row.timezone),
    paused: row.paused === 1,
    since: String(row.since),
    updated_at: String(row.updated_at),
  };
}

function toFire(row: Row): ScheduleFire {
  return {
    workflow: String(row.workflow),
    trigger_id: String(row.trigger_id),
    fire_time: String(row.fire_time),
    status: row.status as FireStatus,
    run_id: text(row.run_id),
    reason: text(row.reason),
    misfire: row.misfire === 1,
    claimed_at: String(row.claimed_at),
    settled_at: text(row.settled_at),
  };
}

export class SqliteScheduleStore implements ScheduleStore {
  readonly #base: SqliteStore;

  constructor(base: SqliteStore) {
    this.#base = base;
  }

  #get(sql: string, ...params: SQLInputValue[]): Row | undefined {
    return this.#base.prepare(sql).get(...params) as Row | undefined;
  }

  upsertSchedule(s: ScheduleKey & { cron: string; timezone: string; at: string }): Promise<ScheduleState> {
    return this.#base.write(() => {
      const row = this.#get(
        `INSERT INTO schedules (workflow, trigger_id, cron, timezone, paused, since, updated_at)
         VALUES (?, ?, ?, ?, 0, ?, ?)
         ON CONFLICT (workflow, trigger_id) DO UPDATE SET cron = excluded.cron, timezone = excluded.timezone,
           since = excluded.since, updated_at = excluded.updated_at
         WHERE schedules.cron IS NOT excluded.cron OR schedules.timezone IS NOT excluded.timezone
         RETURNING *`,
        s.workflow,
        s.trigger_id,
        s.cron,
        s.timezone,
        s.at,
        s.at,
      );
      // RETURNING yields nothing when the row existed unchanged.
      return toSchedule(
        row ?? this.#get('SELECT * FROM schedules WHERE workflow = ? AND trigger_id = ?', s.workflow, s.trigger_id)!,
      );
    });
  }

  async getSchedule(key: ScheduleKey): Promise<ScheduleState | undefined> {
    const row = this.#get(
      'SELECT * FROM schedules WHERE workflow = ? AND trigger_id = ?',
      key.workflow,
      key.trigger_id,
    );
    return row ? toSchedule(row) : undefined;
  }

  async listSchedules(): Promise<ScheduleState[]> {
    return (this.#base.prepare('SELECT * FROM schedules ORDER BY workflow, trigger_id').all() as Row[]).map(toSchedule);
  }

  async deleteSchedule(key: ScheduleKey): Promise<void> {
    await this.#base.write(() =>
      this.#base
        .prepare('DELETE FROM schedules WHERE workflow = ? AND trigger_id = ?')
        .run(key.workflow, key.trigger_id),
    );
  }

  setSchedulePaused(key: ScheduleKey, paused: boolean, at: string): Promise<ScheduleState | undefined> {
    return this.#base.write(() => {
      const row = this.#get(
        `UPDATE schedules SET paused = ?, updated_at = ?, since = CASE WHEN ? THEN since ELSE ? END
         WHERE workflow = ? AND trigger_id = ? RETURNING *`,
        paused ? 1 : 0,
        at,
        paused ? 1 : 0,
        at,
        key.workflow,
        key.trigger_id,
      );
      return row ? toSchedule(row) : undefined;
    });
  }

  claimFire(fire: FireKey & { misfire: boolean; claimed_at: string }): Promise<boolean> {
    return this.#base.write(() => {
      const changes = this.#base
        .prepare(
          `INSERT INTO schedule_fires (workflow, trigger_id, fire_time, status, misfire, claimed_at)
           VALUES (?, ?, ?, 'claimed', ?, ?) ON CONFLICT DO NOTHING`,
        )
        .run(fire.workflow, fire.trigger_id, fire.fire_time, fire.misfire ? 1 : 0, fire.claimed_at).changes;
      return Number(changes) === 1;
    });
  }

  async settleFire(fire: FireKey, outcome: FireOutcome, at: string): Promise<void> {
    await this.#base.write(() =>
      this.#base
        .prepare(
          `UPDATE schedule_fires SET status = ?, run_id = ?, reason = ?, settled_at = ?
           WHERE workflow = ? AND trigger_id = ? AND fire_time = ? AND status = 'claimed'`,
        )
        .run(
          outcome.status,
          outcome.status === 'started' ? outcome.run_id : null,
          outcome.status === 'started' ? null : outcome.reason,
          at,
          fire.workflow,
          fire.trigger_id,
          fire.fire_time,
        ),
    );
  }

  async lastFire(key: ScheduleKey): Promise<ScheduleFire | undefined> {
    const row = this.#get(
      'SELECT * FROM schedule_fires WHERE workflow = ? AND trigger_id = ? ORDER BY fire_time DESC LIMIT 1',
      key.workflow,
      key.trigger_id,
    );
    return row ? toFire(row) : undefined;
  }

  async listUnsettledFires(): Promise<ScheduleFire[]> {
    return (
      this.#base.prepare("SELECT * FROM schedule_fires WHERE status = 'claimed' ORDER BY claimed_at").all() as Row[]
    ).map(toFire);
  }

  async activeScheduledRun(key: ScheduleKey): Promise<string | undefined> {
    const row = this.#get(
      // Driven from the few unfinished runs (status index), not from the schedule's whole history of fires.
      `SELECT r.id FROM workflow_runs r JOIN schedule_fires f ON f.run_id = r.id
       WHERE r.status IN ('queued', 'running', 'awaiting_approval') AND f.workflow = ? AND f.trigger_id = ?
       ORDER BY r.seq DESC LIMIT 1`,
      key.workflow,
      key.trigger_id,
    );
    return row ? String(row.id) : undefined;
  }
}
