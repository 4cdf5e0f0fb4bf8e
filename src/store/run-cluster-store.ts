/**
 * The store's part in running workflow runs on several processes (docs/cluster.md, Runs; migration 007):
 * who drives a run (adoption, the fencing token of its transitions), runs parked while they wait for a
 * person, people's actions queued as run commands for the run's holder, and cluster-wide pool holds.
 * WorkflowStore extends this; the contract suite (test/contract/run-cluster-store.test.ts) runs it on both.
 */
import type { ErrorInfo } from '../errors.ts';

/** What a worker's adoption of a run returned: both counters after the increment. */
export interface RunAdoption {
  /** Crashes in a row plus this one (WorkflowRecord `holders`): above MAX_CRASHES + 1 means a crash loop. */
  holders: number;
  /** The fencing token: this holder's transitions land only while the run's adoption is still this. */
  adoption: number;
}

/** A person's action on a run, as a command its holder applies (RunControl's methods). */
export type RunAction =
  | { kind: 'cancel' }
  | { kind: 'decide'; step: string; approved: boolean; comment?: string }
  | { kind: 'rerun'; step?: string }
  | { kind: 'redrive'; entry: string }
  | { kind: 'discard'; entry: string };

/** What applying a command came to: done, or the error a local call would have thrown. */
export type RunCommandOutcome =
  | { ok: true }
  | { ok: false; error: Pick<ErrorInfo, 'kind' | 'message'> & { field?: string } };

export interface RunCommand {
  id: string;
  run_id: string;
  /** Order of arrival, store-wide: a holder applies a run's pending commands by it. */
  seq: number;
  action: RunAction;
  status: 'pending' | 'done';
  outcome: RunCommandOutcome | null;
  created_at: string;
  finished_at: string | null;
}

/** A unit holding a slot of a pool, cluster-wide. */
export interface PoolHold {
  pool: string;
  run_id: string;
  step: string;
  item_index: number | null;
  since: string;
}

/** Thrown by WorkflowStore.apply when a run patch's fence no longer matches: another worker took the run. */
export class RunFencedError extends Error {
  readonly runId: string;
  constructor(runId: string) {
    super(`run ${runId} was taken over by another worker; this holder's transition was not written`);
    this.name = 'RunFencedError';
    this.runId = runId;
  }
}

export interface RunClusterStore {
  /**
   * Takes a run on: holders + 1 and adoption + 1, parked_until cleared, in one statement. Undefined
   * when there is no such run.
   */
  adoptRun(id: string): Promise<RunAdoption | undefined>;
  /**
   * The holder lets go (holders back to 0: not a crash), parked until `parkedUntil` (null: not parked,
   * e.g. a clean stop handing it back). Only while the adoption is still `adoption`; false otherwise.
   */
  releaseRun(id: string, adoption: number, parkedUntil: string | null): Promise<boolean>;
  /**
   * Active runs a worker should be sent to: parked ones whose time has come, ones nobody holds
   * (holders 0, not parked) and, with `held`, those whose holders may have died (holders > 0).
   */
  listRunsToWake(now: string, options: { held: boolean }): Promise<string[]>;

  addRunCommand(command: { id: string; run_id: string; action: RunAction; created_at: string }): Promise<void>;
  getRunCommand(id: string): Promise<RunCommand | undefined>;
  /** The run's pending commands, in order of arrival. */
  pendingRunCommands(runId: string): Promise<RunCommand[]>;
  /** Records the outcome (once: a command already done is left as it is). */
  finishRunCommand(id: string, outcome: RunCommandOutcome, at: string): Promise<void>;

  /**
   * Takes a slot of `pool` for the unit if fewer than `capacity` are held, under a per-pool lock so two
   * processes cannot both take the last one. True when held (a unit already holding one keeps it).
   */
  takePoolHold(hold: PoolHold, capacity: number): Promise<boolean>;
  /** With `since`, only the row taken then: a stale worker cannot give back its successor's slot. */
  releasePoolHold(hold: Pick<PoolHold, 'pool' | 'run_id' | 'step' | 'item_index'> & { since?: string }): Promise<void>;
  /** Drops every hold of a run (a new holder clearing its dead predecessor's); returns the pools freed. */
  dropRunPoolHolds(runId: string): Promise<string[]>;
  /** Every hold, by pool then since. */
  listPoolHolds(): Promise<PoolHold[]>;
}
