-- How many engine processes have taken the run on (created or resumed it) since one last set it
-- down with a clean shutdown. A starting engine that finds it at 2 knows two processes in a row died
-- while it was in flight: a run whose resumption takes the process down is failed, not resumed forever.
ALTER TABLE workflow_runs ADD COLUMN holders INTEGER NOT NULL DEFAULT 0;
