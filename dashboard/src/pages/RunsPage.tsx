import { useState } from 'react';
import { api } from '../api.ts';
import type { Page, Run } from '../api-types.ts';
import { Problem } from '../components/ErrorLine.tsx';
import { ListBody, StatusFilter } from '../components/ListParts.tsx';
import { StatusBadge } from '../components/StatusBadge.tsx';
import { age, cost, elapsed } from '../format.ts';
import { useNow, usePoll } from '../hooks.ts';
import { href } from '../router.ts';

const STATUSES = ['queued', 'running', 'awaiting_approval', 'completed', 'failed'];

export function RunsPage() {
  const [status, setStatus] = useState('');
  const now = useNow();
  const { value, error } = usePoll(
    () => api<Page<Run>>(`/v1/runs?limit=100${status ? `&status=${status}` : ''}`),
    2000,
    status,
  );
  return (
    <section>
      <div className="page-head">
        <h1>Runs</h1>
        <StatusFilter statuses={STATUSES} value={status} onChange={setStatus} />
      </div>
      <Problem message={error} />
      <ListBody page={value} empty={`No runs${status ? ` with status ${status}` : ''}.`}>
        {(items) => (
          <table className="list">
            <thead>
              <tr>
                <th>Status</th>
                <th>Workflow</th>
                <th>Steps</th>
                <th>Age</th>
                <th>Duration</th>
                <th className="num">Cost</th>
              </tr>
            </thead>
            <tbody>
              {items.map((r) => (
                <tr key={r.id} data-run={r.id}>
                  <td>
                    <StatusBadge status={r.status} />
                  </td>
                  <td>
                    <a href={href({ page: 'run', id: r.id })}>{r.workflow}</a>
                    {r.trigger ? <span className="hint">{` · ${r.trigger.kind} ${r.trigger.name}`}</span> : null}
                  </td>
                  <td>
                    {r.steps.filter((s) => s.status === 'completed').length}/{r.steps.length}
                  </td>
                  <td>{age(r.created_at, now)}</td>
                  <td>{elapsed(r.started_at, r.finished_at, now)}</td>
                  <td className="num">{cost(r.usage?.cost_usd)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </ListBody>
    </section>
  );
}
