/**
 * Runs and steps as every layer sees them: their statuses, a step's view, what started a run, a
 * run's events and dead-letter entries. The engine writes them, the store keeps them, the API shows
 * them; they live below all three so the store needs nothing from the engine.
 */
import type { ErrorInfo } from '../errors.ts';
import type { Usage } from './usage.ts';

export type RunStatus = 'queued' | 'running' | 'awaiting_approval' | 'completed' | 'failed';
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

export interface StepAttemptError extends ErrorInfo {
  attempt: number;
  at: string;
}

export interface StepView {
  name: string;
  worker: string;
  status: StepStatus;
  attempts: number;
  started_at: string | null;
  finished_at: string | null;
  /** The step's output envelope: response, data, usage, detail. */
  output: { response: string; data?: unknown; usage?: Usage; detail?: Record<string, unknown> } | null;
  error: ErrorInfo | null;
  /** Every failed attempt's error, oldest first. */
  errors: StepAttemptError[];
  pool: string | null;
  /** While waiting for a pool: how busy it is. */
  pool_usage: { running: number; capacity: number } | null;
  next_attempt_at: string | null;
  usage: Usage | null;
  /**
   * The last attempt's rendered input, as the DLQ keeps it: secrets hidden, credentials shown as
   * [redacted]. Null before the first attempt.
   */
  input: Record<string, unknown> | null;
  /** for_each steps: one entry per item, in item order. */
  items?: Array<Omit<StepView, 'items' | 'name' | 'worker' | 'pool_usage'> & { index: number }>;
}

/**
 * What started a run without a client: a schedule's fire (`name` is the trigger's, with its
 * `fire_time`) or a webhook delivery (`name` is the hook's, with the `delivery` id and `event`).
 */
export interface RunTrigger {
  kind: 'cron' | 'webhook';
  name: string;
  fire_time?: string;
  delivery?: string;
  event?: string | null;
}

export interface RunEvent {
  run_id: string;
  seq: number;
  /** "run" (status change), "step" (a step's status change), "agent" (a claude step's agent message) … */
  type: string;
  data: unknown;
  created_at: string;
}

export interface DlqEntry {
  id: string;
  run_id: string;
  workflow: string;
  step: string;
  /** For a for_each item. */
  item_index: number | null;
  status: 'open' | 'retried' | 'discarded';
  /** The step's rendered inputs of the last attempt (prompt, url, body …), secrets excluded. */
  inputs: Record<string, unknown>;
  errors: StepAttemptError[];
  /** The run's inputs and the outputs of the step's upstream steps at the time. */
  context: Record<string, unknown>;
  created_at: string;
  resolved_at: string | null;
}
