/** What the workflow engine (Orchestrator, RunControl, WorkflowService) is built from. */
import type { Notifier } from '../cluster/notifier.ts';
import type { RunClusterStore } from '../store/run-cluster-store.ts';
import type { WorkflowStore } from '../store/workflow-store.ts';
import type { StepRunnerDeps } from './step-runner.ts';

export interface Logger {
  error(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface OrchestratorDeps {
  store: WorkflowStore;
  runner: StepRunnerDeps;
  /** Built-in pool capacities (claude, llm, http) and the operator's overrides. */
  pools: { builtin: Record<string, number>; operator: Record<string, number> };
  logger: Logger;
  /** Applied to everything stored from a worker (outputs, errors, agent messages). */
  redact?: <T>(value: T) => T;
  /** Tells the webhook sender a delivery was queued (approval notify); it also polls, so this only saves time. */
  webhookQueued?: () => void;
  /** Backoff jitter source; injectable for tests. */
  random?: () => number;
  /**
   * Pools held in the store across every process (cluster-pools.ts); without it, in this process's
   * memory (pools.ts: the embedded store, one process).
   */
  sharedPools?: { store: RunClusterStore; notifier: Notifier };
}
