/**
 * The durable side of schedules (src/triggers/schedules.ts): each schedule's paused state and the claim
 * of every fire. Part of the WorkflowStore, so an implementation keeps runs and claims in one database
 * and the contract suite (test/contract/schedule-store.test.ts) runs against each.
 */

/** A schedule is one cron trigger of one workflow. */
export interface ScheduleKey {
  workflow: string;
  /** The trigger's `name`, or its cron expression. */
  trigger_id: string;
}

export interface ScheduleState extends ScheduleKey {
  cron: string;
  timezone: string;
  paused: boolean;
  /** No fire at or before this time is owed (first seen, expression or zone changed, or resumed). */
  since: string;
  updated_at: string;
}

export type FireStatus = 'claimed' | 'started' | 'skipped' | 'failed';

export interface FireKey extends ScheduleKey {
  /** ISO 8601 UTC with milliseconds. */
  fire_time: string;
}

export interface ScheduleFire extends FireKey {
  status: FireStatus;
  run_id: string | null;
  /** Why a fire was skipped or failed. */
  reason: string | null;
  /** Started for fire times missed while no engine ran (misfire: run_once). */
  misfire: boolean;
  claimed_at: string;
  settled_at: string | null;
}

export type FireOutcome = { status: 'started'; run_id: string } | { status: 'skipped' | 'failed'; reason: string };

export interface ScheduleStore {
  /**
   * Records a schedule the first time it is seen (`since` = `at`), or its new expression or zone
   * (`since` moves to `at`: the old expression's times are not owed); returns its state.
   */
  upsertSchedule(schedule: ScheduleKey & { cron: string; timezone: string; at: string }): Promise<ScheduleState>;
  getSchedule(key: ScheduleKey): Promise<ScheduleState | undefined>;
  listSchedules(): Promise<ScheduleState[]>;
  /**
   * Forgets a schedule whose trigger is gone (its fires stay), so one added again later starts afresh
   * rather than owing the fires of the time it did not exist.
   */
  deleteSchedule(key: ScheduleKey): Promise<void>;
  /** Pauses or resumes. A resume moves `since` to `at`, so fires while paused are not misfires. */
  setSchedulePaused(key: ScheduleKey, paused: boolean, at: string): Promise<ScheduleState | undefined>;

  /** Inserts the claim if no one has: true only for the caller whose insert it was. */
  claimFire(fire: FireKey & { misfire: boolean; claimed_at: string }): Promise<boolean>;
  /** Writes what became of a claimed fire; a fire already settled is left as it is. */
  settleFire(fire: FireKey, outcome: FireOutcome, at: string): Promise<void>;
  /** The schedule's latest fire (any status). */
  lastFire(key: ScheduleKey): Promise<ScheduleFire | undefined>;
  /** Fires claimed but never settled (the claimer stopped in between), oldest first. */
  listUnsettledFires(): Promise<ScheduleFire[]>;
  /** A run this schedule started that is neither completed nor failed, if any. */
  activeScheduledRun(key: ScheduleKey): Promise<string | undefined>;
}
