/** Rows of migration 007's tables as records; the columns are the same in both dialects. */
import { parse, type Row, text } from './columns.ts';
import type { PoolHold, RunAction, RunCommand, RunCommandOutcome } from './run-cluster-store.ts';

export function toRunCommand(row: Row): RunCommand {
  return {
    id: String(row.id),
    run_id: String(row.run_id),
    seq: Number(row.seq),
    action: parse<RunAction>(row.action)!,
    status: row.status === 'done' ? 'done' : 'pending',
    outcome: parse<RunCommandOutcome>(row.outcome),
    created_at: String(row.created_at),
    finished_at: text(row.finished_at),
  };
}

/** item_index is stored as -1 for a step (it is part of the primary key, which cannot hold NULL). */
export function toPoolHold(row: Row): PoolHold {
  const index = Number(row.item_index);
  return {
    pool: String(row.pool),
    run_id: String(row.run_id),
    step: String(row.step),
    item_index: index < 0 ? null : index,
    since: String(row.since),
  };
}

/** Far in the future: the parked_until of a run that waits for a person with no deadline. */
export const NEVER = '9999-12-31T23:59:59.999Z';
