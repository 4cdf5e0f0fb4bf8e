import { api } from '../api.ts';
import type { Pool } from '../api-types.ts';
import { Problem } from '../components/ErrorLine.tsx';
import { age } from '../format.ts';
import { useNow, usePoll } from '../hooks.ts';
import { href } from '../router.ts';

export async function loadPools(): Promise<Pool[]> {
  return (await api<{ items: Pool[] }>('/v1/pools')).items;
}

export const stepName = (s: { step: string; item_index: number | null }) =>
  s.item_index === null ? s.step : `${s.step} [item ${s.item_index}]`;

function PoolCard({ pool, now }: { pool: Pool; now: number }) {
  const full = pool.running >= pool.capacity;
  return (
    <article className={`card pool${full ? ' pool-full' : ''}`} data-pool={pool.name}>
      <header className="pool-head">
        <strong>{pool.name}</strong>
        <span className="flag">{pool.source}</span>
        <meter
          className="pool-meter"
          min={0}
          max={pool.capacity}
          value={pool.running}
          aria-label={`${pool.name} in use`}
        />
        <span className="pool-count">
          {pool.running} / {pool.capacity} in use
        </span>
        {pool.waiting.length ? <span className="badge badge-waiting_pool">{pool.waiting.length} waiting</span> : null}
      </header>
      {pool.workflows.length ? <p className="hint">Used by {pool.workflows.join(', ')}</p> : null}
      <div className="pool-lists">
        <div>
          <h3>Holders</h3>
          {pool.holders.length === 0 ? (
            <p className="empty">Free.</p>
          ) : (
            <ul className="holders">
              {pool.holders.map((h) => (
                <li key={`${h.run_id}/${h.step}/${h.item_index}`} data-run={h.run_id}>
                  <a href={href({ page: 'run', id: h.run_id })}>
                    {h.workflow} · {stepName(h)}
                  </a>{' '}
                  <span className="hint">since {age(h.since, now)}</span>
                </li>
              ))}
            </ul>
          )}
        </div>
        <div>
          <h3>Waiting</h3>
          {pool.waiting.length === 0 ? (
            <p className="empty">Nobody.</p>
          ) : (
            <ol className="waiting">
              {pool.waiting.map((w) => (
                <li key={`${w.run_id}/${w.step}/${w.item_index}`} data-run={w.run_id}>
                  <a href={href({ page: 'run', id: w.run_id })}>
                    {w.workflow} · {stepName(w)}
                  </a>
                </li>
              ))}
            </ol>
          )}
        </div>
      </div>
    </article>
  );
}

/** Concurrency pools: capacity, how full, who holds a slot (linking to the run) and who waits. */
export function PoolsPage() {
  const now = useNow();
  const { value, error } = usePoll(loadPools, 2000, 'pools');
  return (
    <section>
      <div className="page-head">
        <h1>Pools</h1>
      </div>
      <Problem message={error} />
      {value === undefined ? (
        error ? null : (
          <p className="loading">Loading…</p>
        )
      ) : value.length === 0 ? (
        <p className="empty">No pools.</p>
      ) : (
        value.map((p) => <PoolCard key={p.name} pool={p} now={now} />)
      )}
    </section>
  );
}
