import type { TaskRecord } from '../store/store.ts';

/** The v1 representation of a task. Internal bookkeeping (idempotency hash, pending message) stays out. */
export function taskView(task: TaskRecord) {
  return {
    id: task.id,
    status: task.status,
    response: task.response,
    result: task.result,
    error: task.error,
    request: task.request,
    metadata: task.metadata,
    attempts: task.attempts,
    retry_safe: task.retry_safe,
    created_at: task.created_at,
    started_at: task.started_at,
    finished_at: task.finished_at,
  };
}

/** The article's session shape: `{session_id, status, response, result, error}`. */
export function sessionView(task: TaskRecord) {
  return {
    session_id: task.id,
    status: task.status,
    response: task.response,
    result: task.result,
    error: task.error,
  };
}
