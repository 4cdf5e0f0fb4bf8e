/**
 * How a run ends when the engine cannot carry it on (Orchestrator.failRun): an exception while
 * orchestrating it, a transition of it that could not be written, or crashes it was in flight for.
 * Whatever went wrong is that run's failure, written like any other, and never the process's.
 */
import type { ErrorInfo } from '../errors.ts';
import type { StepRecord } from '../store/workflow-store.ts';
import { type ActiveRun, TERMINAL_STEP, Transition, units, updateRunRecord } from './run-state.ts';
import type { TransitionWriter } from './transition-writer.ts';

/** The state machine's moves a failing run needs. */
export interface FailureMoves {
  setStatus(tx: Transition, run: ActiveRun, unit: StepRecord, status: StepRecord['status']): void;
  fail(tx: Transition, run: ActiveRun, unit: StepRecord, error: ErrorInfo, dlq: boolean): void;
}

/** The run's error: `internal`, naming what was thrown (a stack trace stays in the log). */
export function failureInfo(cause: unknown): ErrorInfo {
  const what = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
  return {
    kind: 'internal',
    message: `the engine could not carry on this run (${what.slice(0, 500)})`,
    retryable: false,
  };
}

/**
 * Every unit under way fails with `info` (the first goes to the DLQ, so a person can redrive it),
 * those not yet begun are skipped, and the run ends failed. Every unit is written: a transition that
 * threw part-way may have left some ahead of the store.
 */
export function endRun(tx: Transition, run: ActiveRun, info: ErrorInfo, moves: FailureMoves): void {
  let first = true;
  for (const unit of units(run)) {
    if (TERMINAL_STEP.has(unit.status)) {
      tx.touch(run, unit);
    } else if (unit.status === 'pending') {
      moves.setStatus(tx, run, unit, 'skipped');
    } else {
      unit.errors.push({ ...info, attempt: unit.attempts, at: tx.at });
      moves.fail(tx, run, unit, info, first);
      first = false;
    }
  }
  run.endedBy = info;
  updateRunRecord(tx, run);
}

/** Only the run's own end, for when its units cannot be written (their outputs may be why it failed). */
export function endRunOnly(tx: Transition, run: ActiveRun, info: ErrorInfo): void {
  tx.drop(run);
  const r = run.record;
  r.status = 'failed';
  r.error = info;
  r.finished_at ??= tx.at;
  tx.touch(run);
  tx.event(r.id, 'run', { status: 'failed', error: info });
}

/**
 * Writes the end of a failed run, and tells its waiters. If the whole of it cannot be written (its
 * outputs or context may be why it failed), the run's own end is written instead.
 */
export function writeEnd(writer: TransitionWriter, tx: Transition, run: ActiveRun, info: ErrorInfo): void {
  tx.after.push(() => writer.terminal(run.record.id));
  void writer.commit(tx).catch(() => {
    const end = new Transition();
    endRunOnly(end, run, info);
    end.after.push(() => writer.terminal(run.record.id));
    return writer.commit(end).catch(() => undefined);
  });
}
