-- Tasks: one row per submitted task; seq gives the FIFO order and the list cursor.
-- The PostgreSQL twin of the SQLite 001. Differences, and why:
-- * Times stay ISO-8601 text, as in SQLite: callers compare and page them as strings, and the stores must
--   return exactly what they were given.
-- * JSON stays text, not jsonb: jsonb rejects "\u0000" and lone surrogate escapes that attacker-written
--   prompts and outputs can hold, and reorders keys.
-- * Free text from clients and models (response, pending_message, last_error) is stored JSON-encoded:
--   a PostgreSQL text value cannot hold a NUL character.
CREATE TABLE tasks (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  status TEXT NOT NULL,
  request TEXT NOT NULL,
  policy TEXT NOT NULL,
  response TEXT,
  result TEXT,
  error TEXT,
  created_at TEXT NOT NULL,
  started_at TEXT,
  finished_at TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  retry_safe BOOLEAN NOT NULL DEFAULT false,
  idempotency_key TEXT UNIQUE,
  idempotency_hash TEXT,
  agent_session_id TEXT,
  pending_message TEXT,
  metadata TEXT,
  webhook_url TEXT
);
CREATE INDEX tasks_status_seq ON tasks (status, seq);

CREATE TABLE task_events (
  task_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  type TEXT NOT NULL,
  data TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (task_id, seq)
);

CREATE TABLE webhook_deliveries (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  task_id TEXT NOT NULL,
  url TEXT NOT NULL,
  payload TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at TEXT,
  delivered_at TEXT,
  last_error TEXT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE next_attempt_at IS NOT NULL;
