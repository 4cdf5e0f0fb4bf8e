-- How many times in a row a starting engine found the run in flight (it crashed, or was killed,
-- while the run ran): a run whose resumption keeps taking the process down is failed instead of
-- resumed forever. Back to 0 on a clean shutdown and when a person redrives or reruns the run.
ALTER TABLE workflow_runs ADD COLUMN resumes INTEGER NOT NULL DEFAULT 0;
