-- The transcript of each task's Claude Code session, saved after every turn: a follow-up that another
-- worker runs restores it into its own config dir to resume (src/tasks/session-transcripts.ts). One
-- row per task, the latest turn's. content is NULL when the file was larger than the cap (size says
-- how large), so a follow-up elsewhere fails with that reason instead of resuming an older turn.
CREATE TABLE task_transcripts (
  task_id TEXT PRIMARY KEY,
  session_id TEXT NOT NULL,
  content BYTEA,
  size BIGINT NOT NULL,
  updated_at TEXT NOT NULL
);
