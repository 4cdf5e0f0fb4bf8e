import { useState } from 'react';
import { api } from '../api.ts';
import type { Page, Task, TaskStatus } from '../api-types.ts';
import { Problem } from '../components/ErrorLine.tsx';
import { NewTaskForm } from '../components/NewTaskForm.tsx';
import { StatusBadge } from '../components/StatusBadge.tsx';
import { age, cost, elapsed } from '../format.ts';
import { useNow, usePoll } from '../hooks.ts';
import { href } from '../router.ts';

const STATUSES: TaskStatus[] = ['queued', 'running', 'completed', 'failed'];

export function taskCost(task: Task): number | undefined {
  return task.result?.usage?.cost_usd ?? task.result?.total_cost_usd;
}

/** Newest tasks first, refreshed every two seconds. */
export function TasksPage() {
  const [status, setStatus] = useState('');
  const [composing, setComposing] = useState(false);
  const now = useNow();
  const { value, error } = usePoll(
    () => api<Page<Task>>(`/v1/tasks?limit=100${status ? `&status=${status}` : ''}`),
    2000,
    status,
  );
  return (
    <section>
      <div className="page-head">
        <h1>Tasks</h1>
        <label>
          Status{' '}
          <select value={status} onChange={(e) => setStatus(e.target.value)} aria-label="status filter">
            <option value="">all</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        {composing ? null : (
          <button type="button" className="primary" onClick={() => setComposing(true)}>
            New task
          </button>
        )}
      </div>
      {composing ? <NewTaskForm onClose={() => setComposing(false)} /> : null}
      <Problem message={error} />
      {value === undefined ? (
        <p className="loading">Loading…</p>
      ) : value.items.length === 0 ? (
        <p className="empty">No tasks{status ? ` with status ${status}` : ''}.</p>
      ) : (
        <table className="list">
          <thead>
            <tr>
              <th>Status</th>
              <th>Prompt</th>
              <th>Age</th>
              <th>Duration</th>
              <th className="num">Cost</th>
            </tr>
          </thead>
          <tbody>
            {value.items.map((t) => (
              <tr key={t.id} data-task={t.id}>
                <td>
                  <StatusBadge status={t.status} />
                </td>
                <td className="prompt">
                  <a href={href({ page: 'task', id: t.id })}>{(t.request.prompt ?? t.id).slice(0, 140)}</a>
                </td>
                <td>{age(t.created_at, now)}</td>
                <td>{elapsed(t.started_at, t.finished_at, now)}</td>
                <td className="num">{cost(taskCost(t))}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
