import { useState } from 'react';
import { api, post, seg } from '../api.ts';
import type { Run, Step, WorkflowSummary } from '../api-types.ts';
import { Dag } from '../components/Dag.tsx';
import { ErrorLine, Problem } from '../components/ErrorLine.tsx';
import { StatusBadge } from '../components/StatusBadge.tsx';
import { age, cost, elapsed, json, time, tokens } from '../format.ts';
import { useNow, usePoll } from '../hooks.ts';
import { href } from '../router.ts';
import { loadPools, stepName } from './PoolsPage.tsx';

function waitingFor(s: Step): string | null {
  if (s.status === 'waiting_pool' && s.pool) {
    return `pool ${s.pool}${s.pool_usage ? ` (${s.pool_usage.running}/${s.pool_usage.capacity} busy)` : ''}`;
  }
  if (s.status === 'retry_wait') return `a retry at ${time(s.next_attempt_at)}`;
  if (s.status === 'awaiting_approval') return 'a review (see Reviews)';
  return null;
}

/** Who holds the pool a step waits for, each linking to its run (nothing when the server has no /v1/pools). */
function PoolHolders({ name }: { name: string }) {
  const now = useNow();
  const { value } = usePoll(loadPools, 2000, `pool:${name}`);
  const pool = value?.find((p) => p.name === name);
  if (!pool) return null;
  return (
    <div className="pool-holders">
      Held by:{' '}
      {pool.holders.length === 0
        ? 'nobody (a slot is being handed over)'
        : pool.holders.map((h, i) => (
            <span key={`${h.run_id}/${h.step}/${h.item_index}`}>
              {i ? ', ' : ''}
              <a href={href({ page: 'run', id: h.run_id })}>
                {h.workflow} · {stepName(h)}
              </a>{' '}
              <span className="hint">(since {age(h.since, now)})</span>
            </span>
          ))}
      {pool.waiting.length > 1 ? ` · ${pool.waiting.length} steps waiting in all` : ''}
    </div>
  );
}

function StepDetail({ step, now }: { step: Step; now: number }) {
  const wait = waitingFor(step);
  return (
    <div className="card step-detail">
      <h2>
        Step {step.name} <StatusBadge status={step.status} />
      </h2>
      <p>
        {step.worker} · attempts {step.attempts} · {elapsed(step.started_at, step.finished_at, now)} · tokens{' '}
        {tokens(step.usage?.input_tokens)} in / {tokens(step.usage?.output_tokens)} out · {cost(step.usage?.cost_usd)}
      </p>
      {wait ? <p className="hint">Waiting for {wait}.</p> : null}
      {step.status === 'waiting_pool' && step.pool ? <PoolHolders name={step.pool} /> : null}
      <ErrorLine error={step.error} />
      {step.errors.length ? (
        <ul className="attempt-errors">
          {step.errors.map((e) => (
            <li key={`${e.attempt}-${e.at}`}>
              attempt {e.attempt} ({time(e.at)}): <code>{e.kind}</code> {e.message}
            </li>
          ))}
        </ul>
      ) : null}
      <div className="step-io">
        <div>
          <h3>Input</h3>
          {step.input === null ? (
            <p className="empty">No input rendered yet.</p>
          ) : (
            <pre className="text step-input">{json(step.input)}</pre>
          )}
        </div>
        {step.output ? (
          <div>
            <h3>Output</h3>
            <pre className="text">{step.output.response}</pre>
            {step.output.data !== undefined ? <pre className="text">{json(step.output.data)}</pre> : null}
          </div>
        ) : null}
      </div>
    </div>
  );
}

export function RunPage({ id }: { id: string }) {
  const now = useNow();
  const [selected, setSelected] = useState<string | undefined>();
  const [actionError, setActionError] = useState<string | undefined>();
  const { value: run, error, reload } = usePoll(() => api<Run>(`/v1/runs/${seg(id)}`), 2000, id);
  const workflow = usePoll(
    () => (run ? api<WorkflowSummary>(`/v1/workflows/${seg(run.workflow)}`) : Promise.resolve(undefined)),
    60_000,
    run?.workflow ?? '',
  );
  if (!run) return error ? <Problem message={error} /> : <p className="loading">Loading…</p>;
  const deps: Record<string, string[]> = {};
  for (const [name, s] of Object.entries(workflow.value?.definition?.steps ?? {})) deps[name] = s.depends_on ?? [];
  const step = run.steps.find((s) => s.name === selected);
  const act = async (path: string, body?: unknown) => {
    setActionError(undefined);
    try {
      await post(path, body);
      await reload();
    } catch (err) {
      setActionError((err as Error).message);
    }
  };
  const live = run.status !== 'completed' && run.status !== 'failed';
  return (
    <section>
      <div className="page-head">
        <h1>
          {run.workflow} <StatusBadge status={run.status} />
        </h1>
        {live ? (
          <button type="button" className="danger" onClick={() => void act(`/v1/runs/${seg(id)}/cancel`)}>
            Cancel run
          </button>
        ) : null}
        {run.status === 'failed' ? (
          <button
            type="button"
            onClick={() => void act(`/v1/runs/${seg(id)}/rerun`, selected ? { step: selected } : {})}
          >
            {selected ? `Rerun from ${selected}` : 'Rerun failed steps'}
          </button>
        ) : null}
      </div>
      <p className="hint">
        Run <code>{run.id}</code> · started {time(run.started_at)} · {elapsed(run.started_at, run.finished_at, now)} ·{' '}
        {cost(run.usage?.cost_usd)}
      </p>
      <Problem message={error ?? actionError} />
      <ErrorLine error={run.error} />
      <div className="dag-wrap">
        <Dag steps={run.steps} deps={deps} selected={selected} onSelect={setSelected} />
      </div>
      {step ? <StepDetail step={step} now={now} /> : <p className="hint">Select a step to see its detail.</p>}
      <details>
        <summary>Inputs</summary>
        <pre className="text">{json(run.inputs)}</pre>
      </details>
    </section>
  );
}
