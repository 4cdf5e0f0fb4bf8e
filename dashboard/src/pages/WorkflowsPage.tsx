import { useState } from 'react';
import { stringify } from 'yaml';
import { api, post, seg } from '../api.ts';
import type { Hook, Run, Schedule, WorkflowSummary } from '../api-types.ts';
import { Problem } from '../components/ErrorLine.tsx';
import { StatusBadge } from '../components/StatusBadge.tsx';
import { WorkflowEditor } from '../components/WorkflowEditor.tsx';
import { age, json, time } from '../format.ts';
import { usePoll } from '../hooks.ts';
import { href } from '../router.ts';

/** The inputs a run starts with, prefilled from the definition's declared inputs and defaults. */
function inputTemplate(w: WorkflowSummary): string {
  const inputs: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(w.definition?.inputs ?? {})) inputs[name] = spec.default ?? '';
  return json(inputs);
}

/** A definition as YAML to edit: the server returns it parsed (defaults filled in), not as first written. */
function definitionText(w: WorkflowSummary): string {
  return stringify(w.definition ?? { name: w.name }, { lineWidth: 0 });
}

function Workflow({
  workflow,
  hooks,
  onEdit,
}: {
  workflow: WorkflowSummary;
  hooks: Hook[];
  onEdit: (w: WorkflowSummary) => void;
}) {
  const [inputs, setInputs] = useState(() => inputTemplate(workflow));
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const start = async () => {
    setError(undefined);
    let parsed: unknown;
    try {
      parsed = JSON.parse(inputs);
    } catch (err) {
      setError(`inputs are not valid JSON: ${(err as Error).message}`);
      return;
    }
    setBusy(true);
    try {
      const run = await post<Run>(`/v1/workflows/${seg(workflow.name)}/runs`, { inputs: parsed });
      window.location.hash = href({ page: 'run', id: run.id });
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const steps = Object.keys(workflow.definition?.steps ?? {});
  return (
    <article className="card workflow" data-workflow={workflow.name}>
      <header>
        <strong>{workflow.name}</strong> · version {workflow.version} · {steps.length} steps
        {workflow.source ? ` · from ${workflow.source}` : ''} · updated {age(workflow.updated_at)}
      </header>
      {workflow.definition?.description ? <p>{workflow.definition.description}</p> : null}
      <p className="hint">Steps: {steps.join(', ')}</p>
      {hooks.length ? (
        <p className="hint">
          Hooks:{' '}
          {hooks.map((h, i) => (
            <span key={h.name}>
              {i ? ', ' : ''}
              <code>POST {h.path}</code>
            </span>
          ))}
        </p>
      ) : null}
      <label>
        Inputs (JSON)
        <textarea
          rows={Math.min(8, inputs.split('\n').length)}
          value={inputs}
          onChange={(e) => setInputs(e.target.value)}
        />
      </label>
      <div className="actions">
        <button type="button" className="primary" disabled={busy} onClick={() => void start()}>
          Start run
        </button>
        <button type="button" onClick={() => onEdit(workflow)}>
          Edit definition
        </button>
      </div>
      <Problem message={error} />
    </article>
  );
}

function Schedules() {
  const [error, setError] = useState<string | undefined>();
  const {
    value,
    error: loadError,
    reload,
  } = usePoll(() => api<{ items: Schedule[] }>('/v1/schedules'), 10_000, 'schedules');
  if (!value) return <Problem message={loadError} />;
  if (value.items.length === 0) return <p className="empty">No schedules.</p>;
  const toggle = async (s: Schedule) => {
    setError(undefined);
    try {
      await post(`/v1/schedules/${seg(s.workflow)}/${seg(s.trigger)}/${s.paused ? 'resume' : 'pause'}`);
      await reload();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <>
      <Problem message={error ?? loadError} />
      <table className="list">
        <thead>
          <tr>
            <th>Workflow</th>
            <th>Trigger</th>
            <th>Cron</th>
            <th>Next fire</th>
            <th>Last fire</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {value.items.map((s) => (
            <tr key={`${s.workflow}/${s.trigger}`}>
              <td>{s.workflow}</td>
              <td>{s.trigger}</td>
              <td>
                <code>{s.cron}</code> {s.timezone}
              </td>
              <td>{s.paused ? 'paused' : time(s.next_fire_time)}</td>
              <td>
                {s.last_fire ? (
                  <>
                    <StatusBadge status={s.last_fire.status} /> {time(s.last_fire.fire_time)}
                    {s.last_fire.run_id ? (
                      <>
                        {' '}
                        <a href={href({ page: 'run', id: s.last_fire.run_id })}>run</a>
                      </>
                    ) : null}
                    {s.last_fire.reason ? ` (${s.last_fire.reason})` : ''}
                  </>
                ) : (
                  '—'
                )}
              </td>
              <td>
                <button type="button" onClick={() => void toggle(s)}>
                  {s.paused ? 'Resume' : 'Pause'}
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

/** The hooks registered workflows declare (GET /v1/hooks): where a provider must send its deliveries. */
function Hooks({ hooks, error }: { hooks: Hook[] | undefined; error: string | undefined }) {
  if (!hooks) return <Problem message={error} />;
  if (hooks.length === 0) return <p className="empty">No hooks (a workflow declares them under triggers).</p>;
  return (
    <table className="list hooks">
      <thead>
        <tr>
          <th>Hook</th>
          <th>Workflow</th>
          <th>Provider</th>
          <th>Events</th>
          <th>Deliver to</th>
        </tr>
      </thead>
      <tbody>
        {hooks.map((h) => (
          <tr key={h.name} data-hook={h.name}>
            <td>{h.name}</td>
            <td>{h.workflow}</td>
            <td>{h.provider}</td>
            <td>{h.events ? h.events.join(', ') : 'every event'}</td>
            <td>
              <code>
                POST {window.location.origin}
                {h.path}
              </code>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function WorkflowsPage() {
  const [editing, setEditing] = useState<{ n: number; initial?: { text: string; filename: string } }>();
  const { value, error, reload } = usePoll(
    () => api<{ items: WorkflowSummary[] }>('/v1/workflows'),
    10_000,
    'workflows',
  );
  const hooks = usePoll(() => api<{ items: Hook[] }>('/v1/hooks'), 10_000, 'hooks');
  const hooksOf = (name: string) => (hooks.value?.items ?? []).filter((h) => h.workflow === name);
  return (
    <section>
      <div className="page-head">
        <h1>Workflows</h1>
        {editing ? null : (
          <button type="button" className="primary" onClick={() => setEditing({ n: 0 })}>
            Register workflow
          </button>
        )}
      </div>
      {editing ? (
        <WorkflowEditor
          key={editing.n}
          initial={editing.initial}
          onSaved={() => {
            void reload();
            void hooks.reload();
          }}
        />
      ) : null}
      <Problem message={error} />
      {value === undefined ? (
        <p className="loading">Loading…</p>
      ) : value.items.length === 0 ? (
        <p className="empty">No workflows registered yet: register one above, or set SWITCHYARD_WORKFLOWS_DIR.</p>
      ) : (
        value.items.map((w) => (
          <Workflow
            key={`${w.name}@${w.version}`}
            workflow={w}
            hooks={hooksOf(w.name)}
            onEdit={(edit) => {
              setEditing({
                n: (editing?.n ?? 0) + 1,
                initial: { text: definitionText(edit), filename: `${edit.name}.yaml` },
              });
              window.scrollTo(0, 0);
            }}
          />
        ))
      )}
      <h2>Hooks</h2>
      <Hooks hooks={hooks.value?.items} error={hooks.error} />
      <h2>Schedules</h2>
      <Schedules />
    </section>
  );
}
