/**
 * The ScheduleStore on PostgreSQL (tables of migration 004), on PostgresStore's pool.
 * PostgresWorkflowStore delegates its schedule methods here. A fire is claimed by its primary key
 * (INSERT … ON CONFLICT DO NOTHING), so one claimer wins however many engines share the database.
 */
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
import type { PostgresStore } from './postgres-store.ts';

function toSchedule(row: Row): ScheduleState {
  return {
    workflow: String(row.workflow),
    trigger_id: String(row.trigger_id),
    cron: String(row.cron),
    timezone: String(row.timezone),
    paused: row.paused === true,
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
    misfire: row.misfire === true,
    claimed_at: String(row.claimed_at),
    settled_at: text(row.settled_at),
  };
}

export class PostgresScheduleStore implements ScheduleStore {
  readonly #base: PostgresStore;

  constructor(base: PostgresStore) {
    this.#base = base;
  }

  async #one(sql: string, params: unknown[]): Promise<Row | undefined> {
    return (await this.#base.pool.query(sql, params)).rows[0];
  }

  async #all(sql: string, params: unknown[] = []): Promise<Row[]> {
    return (await this.#base.pool.query(sql, params)).rows;
  }

  async upsertSchedule(s: ScheduleKey & { cron: string; timezone: string; at: string }): Promise<ScheduleState> {
    const row = await this.#one(
      `INSERT INTO schedules (workflow, trigger_id, cron, timezone, paused, since, updated_at)
       VALUES ($1, $2, $3, $4, false, $5, $5)
       ON CONFLICT (workflow, trigger_id) DO UPDATE SET cron = excluded.cron, timezone = excluded.timezone,
         since = excluded.since, updated_at = excluded.updated_at
       WHERE schedules.cron IS DISTINCT FROM excluded.cron OR schedules.timezone IS DISTINCT FROM excluded.timezone
       RETURNING *`,
      [s.workflow, s.trigger_id, s.cron, s.timezone, s.at],
    );
    // RETURNING yields nothing when the row existed unchanged.
    return toSchedule(row ?? (await this.#get(s))!);
  }

  #get(key: ScheduleKey): Promise<Row | undefined> {
    return this.#one('SELECT * FROM schedules WHERE workflow = $1 AND trigger_id = $2', [key.workflow, key.trigger_id]);
  }

  async getSchedule(key: ScheduleKey): Promise<ScheduleState | undefined> {
    const row = await this.#get(key);
    return row ? toSchedule(row) : undefined;
  }

  async listSchedules(): Promise<ScheduleState[]> {
    // COLLATE "C": the byte order SQLite sorts by, whatever the database's locale.
    return (await this.#all('SELECT * FROM schedules ORDER BY workflow COLLATE "C", trigger_id COLLATE "C"')).map(
      toSchedule,
    );
  }

  async deleteSchedule(key: ScheduleKey): Promise<void> {
    await this.#base.pool.query('DELETE FROM schedules WHERE workflow = $1 AND trigger_id = $2', [
      key.workflow,
      key.trigger_id,
    ]);
  }

  async setSchedulePaused(key: ScheduleKey, paused: boolean, at: string): Promise<ScheduleState | undefined> {
    const row = await this.#one(
      `UPDATE schedules SET paused = $1, updated_at = $2, since = CASE WHEN $1 THEN since ELSE $2 END
       WHERE workflow = $3 AND trigger_id = $4 RETURNING *`,
      [paused, at, key.workflow, key.trigger_id],
    );
    return row ? toSchedule(row) : undefined;
  }

  async claimFire(fire: FireKey & { misfire: boolean; claimed_at: string }): Promise<boolean> {
    const result = await this.#base.pool.query(
      `INSERT INTO schedule_fires (workflow, trigger_id, fire_time, status, misfire, claimed_at)
       VALUES ($1, $2, $3, 'claimed', $4, $5) ON CONFLICT DO NOTHING`,
      [fire.workflow, fire.trigger_id, fire.fire_time, fire.misfire, fire.claimed_at],
    );
    return result.rowCount === 1;
  }

  async settleFire(fire: FireKey, outcome: FireOutcome, at: string): Promise<void> {
    await this.#base.pool.query(
      `UPDATE schedule_fires SET status = $1, run_id = $2, reason = $3, settled_at = $4
       WHERE workflow = $5 AND trigger_id = $6 AND fire_time = $7 AND status = 'claimed'`,
      [
        outcome.status,
        outcome.status === 'started' ? outcome.run_id : null,
        outcome.status === 'started' ? null : outcome.reason,
        at,
        fire.workflow,
        fire.trigger_id,
        fire.fire_time,
      ],
    );
  }

  async lastFire(key: ScheduleKey): Promise<ScheduleFire | undefined> {
    const row = await this.#one(
      'SELECT * FROM schedule_fires WHERE workflow = $1 AND trigger_id = $2 ORDER BY fire_time DESC LIMIT 1',
      [key.workflow, key.trigger_id],
    );
    return row ? toFire(row) : undefined;
  }

  async listUnsettledFires(): Promise<ScheduleFire[]> {
    return (await this.#all("SELECT * FROM schedule_fires WHERE status = 'claimed' ORDER BY claimed_at")).map(toFire);
  }

  async activeScheduledRun(key: ScheduleKey): Promise<string | undefined> {
    const row = await this.#one(
      `SELECT r.id FROM workflow_runs r JOIN schedule_fires f ON f.run_id = r.id
       WHERE r.status IN ('queued', 'running', 'awaiting_approval') AND f.workflow = $1 AND f.trigger_id = $2
       ORDER BY r.seq DESC LIMIT 1`,
      [key.workflow, key.trigger_id],
    );
    return row ? String(row.id) : undefined;
  }
}
