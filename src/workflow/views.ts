/**
 * Stored records → the views the API shows (workflow-api.ts). Built from what the store holds, never
 * from the orchestrator's memory, so nothing is reported before it is durable.
 */
import type { RunRecord, StepRecord, WorkflowRecord } from '../store/workflow-store.ts';
import { topologicalOrder } from './dag.ts';
import type { PoolUsage } from './pools.ts';
import type { RunView, StepView, WorkflowSummary } from './workflow-api.ts';

export function workflowSummary(w: WorkflowRecord): WorkflowSummary {
  return { name: w.name, version: w.version, source: w.source, updated_at: w.updated_at, definition: w.definition };
}

function unitView(s: StepRecord) {
  return {
    status: s.status,
    attempts: s.attempts,
    started_at: s.started_at,
    finished_at: s.finished_at,
    output: s.output,
    error: s.error,
    errors: s.errors,
    pool: s.pool,
    next_attempt_at: s.next_attempt_at,
    usage: s.usage,
    input: s.inputs,
  };
}

export function runView(run: RunRecord, rows: StepRecord[], poolUsage: (pool: string) => PoolUsage): RunView {
  const parents = new Map<string, StepRecord>();
  const items = new Map<string, StepRecord[]>();
  for (const row of rows) {
    if (row.item_index === null) parents.set(row.name, row);
    else {
      const list = items.get(row.name);
      if (list) list.push(row);
      else items.set(row.name, [row]);
    }
  }
  const steps: StepView[] = [];
  for (const name of topologicalOrder(run.definition)) {
    const row = parents.get(name);
    if (!row) continue;
    const step = run.definition.steps[name]!;
    const view: StepView = {
      name,
      worker: step.worker,
      ...unitView(row),
      pool_usage: row.status === 'waiting_pool' && row.pool !== null ? poolUsage(row.pool) : null,
    };
    if ('for_each' in step && step.for_each !== undefined) {
      view.items = (items.get(name) ?? [])
        .sort((a, b) => (a.item_index ?? 0) - (b.item_index ?? 0))
        .map((item) => ({ index: item.item_index ?? 0, ...unitView(item) }));
    }
    steps.push(view);
  }
  return {
    id: run.id,
    workflow: run.workflow,
    workflow_version: run.version,
    status: run.status,
    inputs: run.inputs,
    created_at: run.created_at,
    started_at: run.started_at,
    finished_at: run.finished_at,
    error: run.error,
    usage: run.usage,
    steps,
    trigger: run.trigger,
  };
}
