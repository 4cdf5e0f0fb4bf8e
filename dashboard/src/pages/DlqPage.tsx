import { useState } from 'react';
import { api, post, seg } from '../api.ts';
import type { DlqEntry, Page } from '../api-types.ts';
import { Problem } from '../components/ErrorLine.tsx';
import { ListBody } from '../components/ListParts.tsx';
import { StatusBadge } from '../components/StatusBadge.tsx';
import { age, json, time } from '../format.ts';
import { usePoll } from '../hooks.ts';
import { href } from '../router.ts';

function Entry({ entry, onDone }: { entry: DlqEntry; onDone: () => void }) {
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const act = async (verb: 'retry' | 'discard') => {
    setBusy(true);
    setError(undefined);
    try {
      await post(`/v1/dlq/${seg(entry.id)}/${verb}`);
      onDone();
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <article className="card dlq-entry" data-dlq={entry.id}>
      <header>
        <StatusBadge status={entry.status} /> <a href={href({ page: 'run', id: entry.run_id })}>{entry.workflow}</a> ·
        step <strong>{entry.step}</strong>
        {entry.item_index !== null ? ` [item ${entry.item_index}]` : ''} · {age(entry.created_at)}
      </header>
      <table className="errors">
        <thead>
          <tr>
            <th>Attempt</th>
            <th>When</th>
            <th>Kind</th>
            <th>Message</th>
          </tr>
        </thead>
        <tbody>
          {entry.errors.map((e) => (
            <tr key={`${e.attempt}-${e.at}`}>
              <td>{e.attempt}</td>
              <td>{time(e.at)}</td>
              <td>
                <code>{e.kind}</code>
              </td>
              <td className="message">{e.message}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <details>
        <summary>Inputs</summary>
        <pre className="text">{json(entry.inputs)}</pre>
      </details>
      {entry.status === 'open' ? (
        <div className="actions">
          <button type="button" className="approve" disabled={busy} onClick={() => void act('retry')}>
            Redrive
          </button>
          <button type="button" className="danger" disabled={busy} onClick={() => void act('discard')}>
            Discard
          </button>
        </div>
      ) : null}
      <Problem message={error} />
    </article>
  );
}

export function DlqPage() {
  const [status, setStatus] = useState('open');
  const { value, error, reload } = usePoll(
    () => api<Page<DlqEntry>>(`/v1/dlq?limit=100${status ? `&status=${status}` : ''}`),
    3000,
    status,
  );
  return (
    <section>
      <div className="page-head">
        <h1>Dead letters</h1>
        <label>
          Status{' '}
          <select value={status} onChange={(e) => setStatus(e.target.value)} aria-label="status filter">
            <option value="open">open</option>
            <option value="retried">retried</option>
            <option value="discarded">discarded</option>
            <option value="">all</option>
          </select>
        </label>
      </div>
      <Problem message={error} />
      <ListBody page={value} empty={`No dead letters${status ? ` (${status})` : ''}.`}>
        {(items) => items.map((e) => <Entry key={e.id} entry={e} onDone={() => void reload()} />)}
      </ListBody>
    </section>
  );
}
