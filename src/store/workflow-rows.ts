/**
 * Rows of the workflow tables (migration 002 and on) as records. The columns are the same in both
 * dialects (times and JSON as text), so one set of mappers serves the SQLite and PostgreSQL stores.
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
import { parse, type Row, text } from './columns.ts';
import type { RunRecord, StepRecord, WorkflowRecord } from './workflow-store.ts';

export function toWorkflow(row: Row): WorkflowRecord {
  return {
    name: String(row.name),
    version: Number(row.version),
    source: String(row.source),
    definition: parse<WorkflowDefinition>(row.definition)!,
    updated_at: String(row.updated_at),
  };
}

export function toRun(row: Row): RunRecord {
  return {
    id: String(row.id),
    workflow: String(row.workflow),
    version: Number(row.version),
    definition: parse<WorkflowDefinition>(row.definition)!,
    status: row.status as RunStatus,
    inputs: parse<Record<string, unknown>>(row.inputs) ?? {},
    idempotency_key: text(row.idempotency_key),
    created_at: String(row.created_at),
    started_at: text(row.started_at),
    finished_at: text(row.finished_at),
    error: parse<ErrorInfo>(row.error),
    usage: parse<Usage>(row.usage)!,
    holders: Number(row.holders ?? 0),
    trigger: parse<RunTrigger>(row.run_trigger),
  };
}

export function toStep(row: Row): StepRecord {
  const step: StepRecord = {
    run_id: String(row.run_id),
    name: String(row.name),
    item_index: row.item_index === null ? null : Number(row.item_index),
    status: row.status as StepStatus,
    attempts: Number(row.attempts),
    attempt_base: Number(row.attempt_base),
    started_at: text(row.started_at),
    finished_at: text(row.finished_at),
    output: parse<StepView['output'] & object>(row.output),
    error: parse<ErrorInfo>(row.error),
    errors: parse<StepAttemptError[]>(row.errors) ?? [],
    pool: text(row.pool),
    next_attempt_at: text(row.next_attempt_at),
    inputs: parse<Record<string, unknown>>(row.inputs),
    usage: parse<Usage>(row.usage),
  };
  if (row.item !== null) step.item = parse(row.item);
  return step;
}

export function toEvent(row: Row): RunEvent {
  return {
    run_id: String(row.run_id),
    seq: Number(row.seq),
    type: String(row.type),
    data: parse(row.data),
    created_at: String(row.created_at),
  };
}

export function toDlq(row: Row): DlqEntry {
  return {
    id: String(row.id),
    run_id: String(row.run_id),
    workflow: String(row.workflow),
    step: String(row.step),
    item_index: row.item_index === null ? null : Number(row.item_index),
    status: row.status as DlqEntry['status'],
    inputs: parse<Record<string, unknown>>(row.inputs) ?? {},
    errors: parse<StepAttemptError[]>(row.errors) ?? [],
    context: parse<Record<string, unknown>>(row.context) ?? {},
    created_at: String(row.created_at),
    resolved_at: text(row.resolved_at),
  };
}
