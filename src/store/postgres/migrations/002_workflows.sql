-- Workflow engine: definitions, runs (each with the definition it started with), steps and for_each
-- items, run events and the dead-letter queue. The PostgreSQL twin of the SQLite 002 (see 001 for the
-- column type choices).
CREATE TABLE workflows (
  name TEXT PRIMARY KEY,
  version INTEGER NOT NULL,
  source TEXT NOT NULL,
  definition TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

CREATE TABLE workflow_runs (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  workflow TEXT NOT NULL,
  version INTEGER NOT NULL,
  definition TEXT NOT NULL,
  status TEXT NOT NULL,
  inputs TEXT NOT NULL,
  idempotency_key TEXT UNIQUE,
  idempotency_hash TEXT,
  created_at TEXT NOT NULL,
  started_at TEXT,
  finished_at TEXT,
  error TEXT,
  usage TEXT NOT NULL
);
CREATE INDEX workflow_runs_status ON workflow_runs (status, seq);
CREATE INDEX workflow_runs_workflow ON workflow_runs (workflow, seq);

-- One row per step (item_index NULL) and one per for_each item (item_index 0…n-1).
-- attempt_base: attempts made before the last redrive or rerun, so the retry budget starts afresh
-- while `attempts` and `errors` keep the whole history.
-- seq stands in for SQLite's rowid: the order rows were first written (an upsert keeps it).
CREATE TABLE workflow_steps (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  run_id TEXT NOT NULL REFERENCES workflow_runs (id),
  name TEXT NOT NULL,
  item_index INTEGER,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  attempt_base INTEGER NOT NULL DEFAULT 0,
  started_at TEXT,
  finished_at TEXT,
  output TEXT,
  error TEXT,
  errors TEXT NOT NULL DEFAULT '[]',
  pool TEXT,
  next_attempt_at TEXT,
  inputs TEXT,
  usage TEXT,
  item TEXT
);
CREATE UNIQUE INDEX workflow_steps_key ON workflow_steps (run_id, name, coalesce(item_index, -1));

CREATE TABLE workflow_run_events (
  run_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  type TEXT NOT NULL,
  data TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (run_id, seq)
);

CREATE TABLE workflow_dlq (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  run_id TEXT NOT NULL,
  workflow TEXT NOT NULL,
  step TEXT NOT NULL,
  item_index INTEGER,
  status TEXT NOT NULL,
  inputs TEXT NOT NULL,
  errors TEXT NOT NULL,
  context TEXT NOT NULL,
  created_at TEXT NOT NULL,
  resolved_at TEXT
);
CREATE INDEX workflow_dlq_status ON workflow_dlq (status, seq);
CREATE INDEX workflow_dlq_run ON workflow_dlq (run_id);
