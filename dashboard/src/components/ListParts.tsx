/** What every list page shares: a status filter, and what to show before and instead of rows. */
import type { ReactNode } from 'react';

export function StatusFilter({
  statuses,
  value,
  onChange,
}: {
  statuses: readonly string[];
  value: string;
  onChange: (status: string) => void;
}) {
  return (
    <label>
      Status{' '}
      <select value={value} onChange={(e) => onChange(e.target.value)} aria-label="status filter">
        <option value="">all</option>
        {statuses.map((s) => (
          <option key={s} value={s}>
            {s}
          </option>
        ))}
      </select>
    </label>
  );
}

/** "Loading…" until the first page arrives, `empty` when it holds nothing, else the rows. */
export function ListBody<T>({
  page,
  empty,
  children,
}: {
  page: { items: T[] } | undefined;
  empty: string;
  children: (items: T[]) => ReactNode;
}) {
  if (page === undefined) return <p className="loading">Loading…</p>;
  if (page.items.length === 0) return <p className="empty">{empty}</p>;
  return <>{children(page.items)}</>;
}
