/** A status as a coloured label; the colour comes from a class per known status, never from the value. */
const KNOWN = new Set([
  'queued',
  'running',
  'awaiting_approval',
  'completed',
  'failed',
  'pending',
  'waiting_pool',
  'retry_wait',
  'skipped',
  'open',
  'retried',
  'discarded',
]);

export function StatusBadge({ status }: { status: string }) {
  const cls = KNOWN.has(status) ? `badge badge-${status}` : 'badge';
  return <span className={cls}>{status.replaceAll('_', ' ')}</span>;
}
