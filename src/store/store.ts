/**
 * The Store: every durable fact of Switchyard. One narrow interface, one implementation per
 * database, one contract suite (test/contract/store.test.ts) that every implementation passes.
 * Writes resolve only once they are durable, so callers acknowledge nothing that a crash could lose.
 */
import type { ErrorInfo } from '../errors.ts';

export type TaskStatus = 'queued' | 'running' | 'awaiting_approval' | 'completed' | 'failed';
export const TERMINAL: ReadonlySet<TaskStatus> = new Set(['completed', 'failed']);

export interface TaskRecord {
  id: string;
  status: TaskStatus;
  /** The normalized request (prompt, allowed_tools, cwd, timeouts …) as accepted. */
  request: Record<string, unknown>;
  /** The effective tool policy the task runs under. */
  policy: Record<string, unknown>;
  response: string | null;
  result: Record<string, unknown> | null;
  error: ErrorInfo | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  attempts: number;
  retry_safe: boolean;
  idempotency_key: string | null;
  /** Claude Code's own session id, kept so a follow-up message resumes the same conversation. */
  agent_session_id: string | null;
  /** A follow-up prompt waiting to run (the task is queued again for it). */
  pending_message: string | null;
  metadata: Record<string, unknown> | null;
  webhook_url: string | null;
}

export interface NewTask {
  id: string;
  request: Record<string, unknown>;
  policy: Record<string, unknown>;
  retry_safe: boolean;
  idempotency_key: string | null;
  /** A digest of the request, so a reused Idempotency-Key with another body is refused. */
  idempotency_hash: string | null;
  metadata: Record<string, unknown> | null;
  webhook_url: string | null;
}

export interface TaskFinish {
  status: 'completed' | 'failed';
  response: string | null;
  result: Record<string, unknown> | null;
  error: ErrorInfo | null;
}

export interface TaskEvent {
  task_id: string;
  seq: number;
  type: string;
  data: unknown;
  created_at: string;
}

export interface TaskListQuery {
  status?: TaskStatus;
  limit: number;
  /** Opaque cursor from a previous page. */
  cursor?: string;
}

export interface WebhookDelivery {
  id: number;
  task_id: string;
  url: string;
  payload: string;
  attempts: number;
  next_attempt_at: string;
}

export interface CreateResult {
  task: TaskRecord;
  /** False when an existing task was returned for a repeated Idempotency-Key. */
  created: boolean;
}

export interface RecoveryReport {
  requeued: string[];
  interrupted: string[];
}

/**
 * The transcript Claude Code keeps of a task's session, saved after each turn so a follow-up that a
 * different worker runs can resume it (src/tasks/session-transcripts.ts). One per task: the latest.
 */
export interface TaskTranscript {
  task_id: string;
  session_id: string;
  /** The file's bytes; null when it was larger than the cap and so not kept (`size` says how large). */
  content: Uint8Array | null;
  size: number;
  updated_at: string;
}

export interface Store {
  /** Inserts a queued task, or returns the task an earlier request with the same idempotency key made. */
  createTask(task: NewTask): Promise<CreateResult>;
  getTask(id: string): Promise<TaskRecord | undefined>;
  listTasks(query: TaskListQuery): Promise<{ items: TaskRecord[]; next_cursor: string | null }>;
  countByStatus(status: TaskStatus): Promise<number>;
  /** Moves the oldest queued task to running (FIFO) and returns it. */
  claimNextTask(now: string): Promise<TaskRecord | undefined>;
  /**
   * Claims one task by id for a worker's job: `queued → running`, `attempts + 1`. Undefined when the
   * task is not queued (taken by another job, cancelled, gone). The returned `attempts` is the fence
   * for every later write of this attempt.
   */
  claimTask(id: string, now: string): Promise<TaskRecord | undefined>;
  /**
   * Takes over a task left `running` by an attempt whose worker is gone: still `running` under
   * `deadAttempt` → `running` under `deadAttempt + 1`. Undefined if anything moved on meanwhile, or
   * if this turn (the first run or a follow-up) was already taken over `maxRetakes` times.
   */
  retakeTask(id: string, deadAttempt: number, now: string, maxRetakes: number): Promise<TaskRecord | undefined>;
  /**
   * Ids of tasks queued since before `queuedBefore`, oldest first: the jobs a crash between the
   * queued write and the send may have lost (and, embedded, every queued task at start).
   */
  listQueuedTasks(queuedBefore: string, limit: number): Promise<string[]>;
  /** Records the agent's session id once known; with `attempt`, only while the task is still at it. */
  setAgentSession(id: string, agentSessionId: string, attempt?: number): Promise<void>;
  /**
   * Ends a task; a task that is already terminal stays as it is (returns false). With `attempt` (the
   * fence), it lands only while the task's `attempts` still equals it: a stale worker loses to a newer one.
   */
  finishTask(id: string, finish: TaskFinish, now: string, attempt?: number): Promise<boolean>;
  /** Queues a follow-up prompt on a terminal task; false if the task is not terminal. */
  queueMessage(id: string, message: string): Promise<boolean>;
  /** At start-up: tasks left running by a crash are failed `interrupted`, or requeued when retry_safe. */
  recoverInterrupted(now: string): Promise<RecoveryReport>;

  /**
   * Appends events. With `attempt` (the fence), they land only while each event's task is still
   * running at that attempt; otherwise none is saved and the result is empty.
   */
  appendEvents(events: Array<Omit<TaskEvent, 'seq'>>, attempt?: number): Promise<TaskEvent[]>;
  listEvents(taskId: string, afterSeq: number, limit: number): Promise<TaskEvent[]>;

  addWebhookDelivery(taskId: string, url: string, payload: string, now: string): Promise<void>;
  /**
   * Claims up to `limit` deliveries due at `now`, oldest first: each returned one is leased until `leaseUntil`
   * (its next_attempt_at moves there in the same write), so no other process, and no later call, gets it
   * before then. recordWebhookAttempt ends the lease; a sender that died leaves it to run out.
   */
  dueWebhookDeliveries(now: string, limit: number, leaseUntil: string): Promise<WebhookDelivery[]>;
  /** Records an attempt: `nextAttemptAt` null means the delivery is finished (sent or abandoned). */
  recordWebhookAttempt(id: number, ok: boolean, nextAttemptAt: string | null, lastError: string | null): Promise<void>;

  /**
   * Keeps a task's transcript, replacing the one an earlier turn kept. Fenced like every write of a
   * run: lands only while the task's `attempts` equals `attempt` (returns false otherwise).
   */
  saveTranscript(transcript: TaskTranscript, attempt: number): Promise<boolean>;
  getTranscript(taskId: string): Promise<TaskTranscript | undefined>;

  close(): Promise<void>;
}
