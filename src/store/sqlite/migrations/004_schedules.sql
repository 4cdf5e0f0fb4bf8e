-- Schedules (cron triggers). A fire is claimed by inserting its (workflow, trigger, fire time) row:
-- the primary key lets exactly one inserter win, so a restart or a second engine on this database
-- never starts the same fire twice.

-- What outlives a process: whether a schedule is paused, and `since`, before which no fire is owed
-- (when it was first seen, its expression or zone last changed, or it was resumed), so those fire
-- times are never counted as misfires.
CREATE TABLE schedules (
  workflow TEXT NOT NULL,
  trigger_id TEXT NOT NULL,
  cron TEXT NOT NULL,
  timezone TEXT NOT NULL,
  paused INTEGER NOT NULL DEFAULT 0,
  since TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (workflow, trigger_id)
);

-- status: claimed (inserted, outcome not yet written), started (run_id), skipped or failed (reason).
-- fire_time is ISO 8601 UTC with milliseconds, so text order is time order.
CREATE TABLE schedule_fires (
  workflow TEXT NOT NULL,
  trigger_id TEXT NOT NULL,
  fire_time TEXT NOT NULL,
  status TEXT NOT NULL,
  run_id TEXT,
  reason TEXT,
  misfire INTEGER NOT NULL DEFAULT 0,
  claimed_at TEXT NOT NULL,
  settled_at TEXT,
  PRIMARY KEY (workflow, trigger_id, fire_time)
);
CREATE INDEX schedule_fires_claimed ON schedule_fires (claimed_at) WHERE status = 'claimed';
CREATE INDEX schedule_fires_run ON schedule_fires (run_id) WHERE run_id IS NOT NULL;

-- What started a run, when not a client: {"kind":"cron","name":…,"fire_time":…}. NULL for API runs.
ALTER TABLE workflow_runs ADD COLUMN run_trigger TEXT;
