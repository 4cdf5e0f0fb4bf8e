/**
 * The WorkflowStore: every durable fact of the workflow engine (definitions, runs, steps, run events,
 * the dead-letter queue). Like Store, every method is async and every write resolves only once it is
 * durable, so the orchestrator acknowledges nothing a crash could lose; a PostgreSQL implementation can
 * slot in behind the same contract suite (test/contract/workflow-store.test.ts).
 *
 * The orchestrator writes each transition as one WorkflowBatch: the step that finished, the steps it
 * released, their events and DLQ entries commit together or not at all.
 */

import type {
  DlqEntry,
  RunEvent,
  RunStatus,
  RunTrigger,
  StepAttemptError,
  StepStatus,
  StepView,
} from '../domain/runs.ts';
import type { Usage } from '../domain/usage.ts';
import type { WorkflowDefinition } from '../domain/workflow-definition.ts';
import type { ErrorInfo } from '../errors.ts';
import type { RunClusterStore } from './run-cluster-store.ts';
import type { ScheduleStore } from './schedule-store.ts';

export interface WorkflowRecord {
  name: string;
  version: number;
  source: string;
  definition: WorkflowDefinition;
  updated_at: string;
}

export interface RunRecord {
  id: string;
  workflow: string;
  version: number;
  /** The definition the run started with: later edits of the workflow never change a run. */
  definition: WorkflowDefinition;
  status: RunStatus;
  inputs: Record<string, unknown>;
  idempotency_key: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  error: ErrorInfo | null;
  usage: Usage;
  /**
   * Engine processes that have taken this run on (created or resumed it) since one last set it down
   * with a clean shutdown (0). Found above 0 by a starting engine, the earlier holders crashed.
   */
  holders: number;
  /** What started the run when no client did (a schedule). */
  trigger: RunTrigger | null;
}

/** The fields of a run that change while it runs. */
export type RunPatch = Pick<
  RunRecord,
  'id' | 'status' | 'started_at' | 'finished_at' | 'error' | 'usage' | 'holders'
> & {
  /**
   * The writer's adoption of the run (run-cluster-store.ts): the whole batch is refused (RunFencedError)
   * unless the run's adoption is still this. Absent: written unconditionally.
   */
  fence?: number;
};

export interface StepRecord {
  run_id: string;
  name: string;
  /** null for the step itself; 0…n-1 for a for_each item. */
  item_index: number | null;
  status: StepStatus;
  /** Attempts ever started, interrupted ones included. */
  attempts: number;
  /** Attempts made before the last redrive or rerun: the retry budget counts from here. */
  attempt_base: number;
  started_at: string | null;
  finished_at: string | null;
  output: StepView['output'];
  error: ErrorInfo | null;
  errors: StepAttemptError[];
  pool: string | null;
  next_attempt_at: string | null;
  /** Rendered inputs of the last attempt (prompt, url, body …), secrets excluded. */
  inputs: Record<string, unknown> | null;
  usage: Usage | null;
  /** for_each items: the item's value. */
  item?: unknown;
}

export interface NewRun {
  id: string;
  workflow: string;
  version: number;
  definition: WorkflowDefinition;
  inputs: Record<string, unknown>;
  idempotency_key: string | null;
  /** A digest of the request, so a reused key with another body is refused. */
  idempotency_hash: string | null;
  created_at: string;
  trigger?: RunTrigger | null;
}

/** An inbound webhook delivery that started a run (see src/triggers/webhook-triggers.ts). */
export interface WebhookDelivery {
  hook: string;
  delivery_id: string;
  run_id: string;
  /** `pull_request.opened`, a Standard Webhooks `type`; null when the body named none. */
  event: string | null;
  received_at: string;
}

/** One transition, written atomically. */
export interface WorkflowBatch {
  runs?: RunPatch[];
  /** Inserted or replaced, keyed by (run_id, name, item_index). */
  steps?: StepRecord[];
  /** Removes a for_each step's item rows (a rerun fans out afresh). Applied before `steps`. */
  deleteItems?: Array<{ run_id: string; name: string }>;
  events?: Array<Omit<RunEvent, 'seq'>>;
  /** Inserted or replaced, keyed by id. */
  dlq?: DlqEntry[];
  /**
   * Signed webhooks to deliver (approval notices), queued in the task webhooks' outbox with the
   * transition that causes them, so a crash can neither lose one nor send one for a wait never written.
   */
  webhooks?: WebhookToQueue[];
}

export interface WebhookToQueue {
  run_id: string;
  url: string;
  /** The JSON body, signed when sent. */
  payload: string;
}

export interface RunListQuery {
  workflow?: string;
  status?: RunStatus;
  limit: number;
  cursor?: string;
}

export interface WorkflowStore extends ScheduleStore, RunClusterStore {
  /** Stores a definition; the version goes up only when the definition changed. */
  putWorkflow(workflow: {
    name: string;
    source: string;
    definition: WorkflowDefinition;
    updated_at: string;
  }): Promise<WorkflowRecord>;
  getWorkflow(name: string): Promise<WorkflowRecord | undefined>;
  listWorkflows(): Promise<WorkflowRecord[]>;

  /**
   * Inserts a queued run and its steps, or returns the run an earlier request with the same
   * idempotency key made (AppError `conflict` when the key came with another body).
   */
  createRun(run: NewRun, steps: StepRecord[]): Promise<{ run: RunRecord; created: boolean }>;
  getRun(id: string): Promise<RunRecord | undefined>;
  /**
   * createRun for an inbound webhook delivery: the delivery row and the run commit in one transaction.
   * A delivery already recorded (a sender's retry) creates nothing and returns the run it started.
   */
  createRunForDelivery(
    delivery: Omit<WebhookDelivery, 'run_id'>,
    run: NewRun,
    steps: StepRecord[],
  ): Promise<{ run: RunRecord; created: boolean }>;
  getWebhookDelivery(hook: string, deliveryId: string): Promise<WebhookDelivery | undefined>;
  /** Newest first. */
  listRuns(query: RunListQuery): Promise<{ items: RunRecord[]; next_cursor: string | null }>;
  /** Runs not yet completed or failed, oldest first: what a starting engine resumes. */
  listActiveRuns(): Promise<RunRecord[]>;
  /** Steps and items of a run, in the order they were first written (callers group items by step). */
  getSteps(runId: string): Promise<StepRecord[]>;

  /**
   * Writes a transition atomically; returns the events with their sequence numbers. Transitions of the
   * same run commit in the order apply() was called, even when the caller does not wait in between.
   */
  apply(batch: WorkflowBatch): Promise<RunEvent[]>;
  listRunEvents(runId: string, afterSeq: number, limit: number): Promise<RunEvent[]>;

  getDlq(id: string): Promise<DlqEntry | undefined>;
  /** Newest first. */
  listDlq(query: { status?: DlqEntry['status']; run_id?: string; limit: number; cursor?: string }): Promise<{
    items: DlqEntry[];
    next_cursor: string | null;
  }>;
}
