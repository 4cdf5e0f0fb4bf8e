/**
 * What the workflow engine offers the HTTP API, the CLI and the dashboard. The engine implements
 * it (src/workflow/workflow-service.ts); routes and commands depend only on this file.
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

/** The run and step types the engine speaks in, for the routes, commands and dashboard that use this file. */
export type { DlqEntry, RunEvent, RunStatus, RunTrigger, StepAttemptError, StepStatus, StepView };

export interface WorkflowSummary {
  name: string;
  version: number;
  /** Where it came from: "api" or the file path in SWITCHYARD_WORKFLOWS_DIR. */
  source: string;
  updated_at: string;
  definition: WorkflowDefinition;
}

export interface RunView {
  id: string;
  workflow: string;
  workflow_version: number;
  status: RunStatus;
  inputs: Record<string, unknown>;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  error: ErrorInfo | null;
  usage: Usage;
  steps: StepView[];
  trigger: RunTrigger | null;
}

/** A step (or for_each item) in a pool: holding a slot, or waiting for one. */
export interface PoolUnit {
  run_id: string;
  workflow: string;
  step: string;
  item_index: number | null;
}

/** A resource pool as it is now (src/workflow/pools.ts). */
export interface PoolView {
  name: string;
  capacity: number;
  source: 'builtin' | 'operator' | 'workflow';
  /** The registered workflows that declare it; [] for builtin and operator pools. */
  workflows: string[];
  running: number;
  holders: Array<PoolUnit & { since: string }>;
  /** In the order they will be admitted. */
  waiting: PoolUnit[];
}

/** The inbound webhook delivery that starts a run (src/triggers/webhook-triggers.ts). */
export interface HookDelivery {
  hook: string;
  id: string;
  event: string | null;
}

export interface WorkflowApi {
  /** Parses, validates (AppError 'validation' naming file/step/field) and stores a definition. */
  registerWorkflow(text: string, options?: { filename?: string; source?: string }): Promise<WorkflowSummary>;
  listWorkflows(): Promise<WorkflowSummary[]>;
  getWorkflow(name: string): Promise<WorkflowSummary>;
  /** Validates without storing: what `switchyard validate FILE` uses. */
  validateWorkflow(text: string, filename?: string): WorkflowDefinition;

  /**
   * `delivery`: the run is started by an inbound webhook delivery, recorded with it atomically; a
   * delivery already recorded starts nothing and returns its run (`created: false`).
   */
  startRun(
    workflow: string,
    inputs: unknown,
    options?: { idempotencyKey?: string; delivery?: HookDelivery },
  ): Promise<{ run: RunView; created: boolean }>;
  getRun(id: string): Promise<RunView>;
  /** Resolves once the run is terminal or `waitMs` runs out. */
  waitRun(id: string, waitMs: number, signal?: AbortSignal): Promise<RunView>;
  listRuns(query: { workflow?: string; status?: RunStatus; limit: number; cursor?: string }): Promise<{
    items: RunView[];
    next_cursor: string | null;
  }>;
  cancelRun(id: string): Promise<RunView>;
  /**
   * Runs a failed run again from `step` (default: its first failed step) and what is downstream of it,
   * plus the steps a cancel stopped or skipped; completed upstream outputs are kept.
   */
  rerunFrom(id: string, step?: string): Promise<RunView>;
  /** Approval steps: resolve an `awaiting_approval` step. */
  decideApproval(id: string, step: string, decision: { approved: boolean; comment?: string }): Promise<RunView>;

  runEvents(id: string, afterSeq: number, limit?: number): Promise<RunEvent[]>;
  onRunEvent(id: string, listener: (event: RunEvent) => void): () => void;

  listDlq(query: { status?: DlqEntry['status']; limit: number; cursor?: string }): Promise<{
    items: DlqEntry[];
    next_cursor: string | null;
  }>;
  getDlq(id: string): Promise<DlqEntry>;
  /** Redrive: the run resumes from that step with fresh attempts. */
  retryDlq(id: string): Promise<RunView>;
  discardDlq(id: string): Promise<DlqEntry>;

  /** Every resource pool, with who holds its slots and who waits (in memory: this process's engine). */
  listPools(): Promise<PoolView[]>;
}
