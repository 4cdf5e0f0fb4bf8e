-- The PostgreSQL twin of the SQLite 007. Runs driven by one worker at a time, cluster-wide (docs/cluster.md, Runs).
-- adoption: goes up by one each time a worker takes the run on, never down. A holder's transitions
-- land only while it is still its adoption's number, so a stale worker that comes back (after another
-- took the run over) cannot overwrite the newer holder's writes. (holders counts crashes in a row and
-- goes back to 0 on a clean let-go, so it cannot be the fence: 1 → 0 → 1 would admit the stale one.)
-- parked_until: set when the holder let go of a run that can only wait for a person; the time a worker
-- must take it on again (the earliest approval deadline; far future when none). NULL while driven.
ALTER TABLE workflow_runs ADD COLUMN adoption INTEGER NOT NULL DEFAULT 0;
ALTER TABLE workflow_runs ADD COLUMN parked_until TEXT;
-- People's actions (cancel, approve/reject, rerun, redrive, discard) from any node, applied in order
-- by the run's holder, which records the outcome the api node returns.
CREATE TABLE run_commands (
  seq BIGSERIAL PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  run_id TEXT NOT NULL,
  action TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending',
  outcome TEXT,
  created_at TEXT NOT NULL,
  finished_at TEXT
);
CREATE INDEX run_commands_pending ON run_commands (run_id, seq) WHERE status = 'pending';
-- Cluster-wide pool slots: one row per unit holding a slot, taken under a per-pool lock.
CREATE TABLE pool_holds (
  pool TEXT NOT NULL,
  run_id TEXT NOT NULL,
  step TEXT NOT NULL,
  item_index INTEGER NOT NULL DEFAULT -1,
  since TEXT NOT NULL,
  PRIMARY KEY (pool, run_id, step, item_index)
);
CREATE INDEX pool_holds_run ON pool_holds (run_id);
