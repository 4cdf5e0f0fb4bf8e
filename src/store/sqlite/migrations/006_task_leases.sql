-- Tasks dispatched through the queue driver (docs/cluster.md). queued_at: when the task last became
-- queued (created, a follow-up, a retry), so the reconciler can tell a task whose job was never sent
-- (a crash between the write and the send) from one that was queued a moment ago. A task's `attempts`
-- is the fencing token of the worker running it: its writes land only while it is still the newest.
ALTER TABLE tasks ADD COLUMN queued_at TEXT;
UPDATE tasks SET queued_at = created_at WHERE status = 'queued';
-- How many times the current turn (the first run, or a follow-up) was taken over from a dead worker:
-- a retry_safe task that kills its worker every time is ended, not retaken forever.
ALTER TABLE tasks ADD COLUMN retakes INTEGER NOT NULL DEFAULT 0;
