import type { TaskRecord } from '../store/store.ts';
import type { AcceptedRequest, TaskResult } from './contract/index.ts';

// The store keeps these as JSON; what the scheduler and the request parser wrote there is the contract's shape.
const resultOf = (task: TaskRecord) => task.result as TaskResult | null;
const requestOf = (task: TaskRecord) => task.request as AcceptedRequest;

/** The v1 representation of a task. Internal bookkeeping (idempotency hash, pending message) stays out. */
export function taskView(task: TaskRecord) {
  return {
    id: task.id,
    status: task.status,
    response: task.response,
    result: resultOf(task),
    error: task.error,
    request: requestOf(task),
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
    result: resultOf(task),
    error: task.error,
  };
}
