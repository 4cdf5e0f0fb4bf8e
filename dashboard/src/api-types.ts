/**
 * The few response shapes of the public API (/v1/...) the dashboard reads. Written by hand for now:
 * they will come from the zod/OpenAPI contract module (issue 10, "One API contract first") once it
 * lands, and this file then re-exports those types. Only the fields the dashboard uses are listed.
 */

export type TaskStatus = 'queued' | 'running' | 'awaiting_approval' | 'completed' | 'failed';
export type StepStatus =
  | 'pending'
  | 'queued'
  | 'waiting_pool'
  | 'running'
  | 'awaiting_approval'
  | 'retry_wait'
  | 'completed'
  | 'failed'
  | 'skipped';

export interface ErrorInfo {
  kind: string;
  message: string;
  retryable?: boolean;
  field?: string;
}

export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens?: number;
  cache_creation_input_tokens?: number;
  cost_usd: number;
}

export interface TaskResult {
  usage?: Usage;
  num_turns?: number;
  duration_ms?: number;
  total_cost_usd?: number;
  permission_denials?: Array<{ tool_name: string; tool_use_id: string; tool_input?: unknown }>;
  files_changed?: string[];
  admission?: { warm: boolean; start_wait_ms: number; startup_ms: number };
  policy?: { rules?: unknown[]; tools?: string[]; sandbox?: { mode: string; active: boolean } };
}

export interface Task {
  id: string;
  status: TaskStatus;
  response: string | null;
  result: TaskResult | null;
  error: ErrorInfo | null;
  request: { prompt?: string; allowed_tools?: string[]; model?: string; cwd?: string; timeout?: number };
  metadata: Record<string, unknown> | null;
  attempts: number;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

/** One event of GET /v1/tasks/{id}/events: `data` is Claude Code's own message, or a status change. */
export interface TaskEvent {
  seq: number;
  type: string;
  data: unknown;
}

export interface SessionInfo {
  auth_required: boolean;
  authenticated: boolean;
  csrf_token?: string;
  expires_at?: string;
}

export interface StepAttemptError extends ErrorInfo {
  attempt: number;
  at: string;
}

export interface Step {
  name: string;
  worker: string;
  status: StepStatus;
  attempts: number;
  started_at: string | null;
  finished_at: string | null;
  output: { response: string; data?: unknown; usage?: Usage; detail?: Record<string, unknown> } | null;
  error: ErrorInfo | null;
  errors: StepAttemptError[];
  pool: string | null;
  pool_usage: { running: number; capacity: number } | null;
  next_attempt_at: string | null;
  usage: Usage | null;
}

export interface Run {
  run_id: string;
  id: string;
  workflow: string;
  workflow_version: number;
  status: TaskStatus;
  inputs: Record<string, unknown>;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  error: ErrorInfo | null;
  usage: Usage;
  steps: Step[];
  trigger: { kind: string; name: string } | null;
}

export interface DlqEntry {
  id: string;
  run_id: string;
  workflow: string;
  step: string;
  item_index: number | null;
  status: 'open' | 'retried' | 'discarded';
  inputs: Record<string, unknown>;
  errors: StepAttemptError[];
  context: Record<string, unknown>;
  created_at: string;
  resolved_at: string | null;
}

/** A workflow as GET /v1/workflows/{name} returns it: the DAG is read from its definition's steps. */
export interface WorkflowSummary {
  name: string;
  version: number;
  source?: string;
  updated_at?: string;
  definition?: {
    description?: string;
    inputs?: Record<string, { type?: string; default?: unknown }>;
    steps?: Record<string, { worker?: string; depends_on?: string[] }>;
  };
}

export interface Schedule {
  workflow: string;
  trigger: string;
  cron: string;
  timezone: string;
  paused: boolean;
  next_fire_time: string | null;
  last_fire: { fire_time: string; status: string; run_id: string | null; reason: string | null } | null;
}

// ---- BEGIN dash-more: pools, step inputs and hooks (hand-written until the contract re-exports them) ----

/** GET /v1/pools → { items: Pool[] }: each concurrency pool, who holds it and who waits. */
export interface Pool {
  name: string;
  capacity: number;
  source: 'builtin' | 'operator' | 'workflow';
  workflows: string[];
  running: number;
  holders: Array<{ run_id: string; workflow: string; step: string; item_index: number | null; since: string }>;
  waiting: Array<{ run_id: string; workflow: string; step: string; item_index: number | null }>;
}

/** Merged into Step above: the last attempt's rendered input, secrets already hidden by the server. */
export interface Step {
  input?: Record<string, unknown> | null;
}

/** GET /v1/hooks → { items: Hook[] }: never the secret. */
export interface Hook {
  name: string;
  workflow: string;
  provider: 'github' | 'standard';
  events: string[] | null;
  path: string;
}

// ---- END dash-more ----
