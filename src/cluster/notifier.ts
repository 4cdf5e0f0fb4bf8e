/**
 * The notifier: "something changed, go and read the store". Long-polls, SSE streams, run commands and
 * schedule registrations wait on it instead of polling. In one process it is an EventEmitter; on
 * PostgreSQL it is LISTEN/NOTIFY, so a change on one node wakes readers on every node (docs/cluster.md).
 *
 * Contract (test/contract/notifier.test.ts runs it on both):
 * - `publish` reaches every subscriber of the channel in every process, this one included, after the
 *   publisher's earlier writes are visible (publish after commit).
 * - Payloads are small JSON (ids and sequence numbers, < 4 KB), never the data itself: subscribers read
 *   the store, so a missed or repeated notification costs a read, never a wrong answer.
 * - After the connection was lost and came back, `onReconnect` listeners run: anything published in
 *   between may have been missed, so they re-read what they watch.
 */
export interface Notifier {
  publish(channel: string, payload: unknown): Promise<void>;
  /** Returns the unsubscribe function. */
  subscribe(channel: string, listener: (payload: unknown) => void): () => void;
  onReconnect(listener: () => void): () => void;
  close(): Promise<void>;
}
