import { useState } from 'react';
import { api } from '../api.ts';
import type { Page, Task, TaskStatus } from '../api-types.ts';
import { Problem } from '../components/ErrorLine.tsx';
import { ListBody, StatusFilter } from '../components/ListParts.tsx';
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
        <StatusFilter statuses={STATUSES} value={status} onChange={setStatus} />
        {composing ? null : (
          <button type="button" className="primary" onClick={() => setComposing(true)}>
            New task
          </button>
        )}
      </div>
      {composing ? <NewTaskForm onClose={() => setComposing(false)} /> : null}
      <Problem message={error} />
      <ListBody page={value} empty={`No tasks${status ? ` with status ${status}` : ''}.`}>
        {(items) => (
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
              {items.map((t) => (
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
      </ListBody>
    </section>
  );
}
