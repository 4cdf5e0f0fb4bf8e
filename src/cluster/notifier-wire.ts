/**
 * What every Notifier implementation checks the same way: channel names and payloads. Channels are
 * prefixed so Switchyard's never meet another application's on a shared PostgreSQL, and validated so a
 * name can be written into LISTEN as an identifier. Payloads are JSON under PostgreSQL's NOTIFY limit
 * (8000 bytes; we keep half): a notifier carries ids, never data (src/cluster/notifier.ts).
 */
import { AppError } from '../errors.ts';

export const CHANNEL_PREFIX = 'switchyard_';
/** Bytes of JSON a payload may take. */
export const MAX_PAYLOAD_BYTES = 4000;

/** The channel as it is named on the wire: `tasks` → `switchyard_tasks`. */
export function wireChannel(channel: string): string {
  // Lower case only: LISTEN folds unquoted names, pg_notify does not; one spelling avoids the mismatch.
  if (!/^[a-z][a-z0-9_]{0,39}$/.test(channel)) {
    throw new AppError(
      'validation',
      `notifier channel ${JSON.stringify(channel)} must be 1 to 40 characters of a-z, 0-9 and _, starting with a letter`,
      { field: 'channel' },
    );
  }
  return CHANNEL_PREFIX + channel;
}

/** The logical channel of a wire name, or undefined for a name that is not Switchyard's. */
export function logicalChannel(wire: string): string | undefined {
  return wire.startsWith(CHANNEL_PREFIX) ? wire.slice(CHANNEL_PREFIX.length) : undefined;
}

/** The payload as sent: JSON, refused when it is larger than MAX_PAYLOAD_BYTES. */
export function encodePayload(channel: string, payload: unknown): string {
  const text = JSON.stringify(payload ?? null);
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_PAYLOAD_BYTES) {
    throw new AppError(
      'validation',
      `notifier payload on channel ${JSON.stringify(channel)} is ${bytes} bytes of JSON, more than ${MAX_PAYLOAD_BYTES}: ` +
        'send ids and sequence numbers, and let subscribers read the store',
      { field: 'payload' },
    );
  }
  return text;
}

/** A listener's failure is its own: it must neither stop delivery to the others nor reach the connection. */
export function deliver(
  listeners: Iterable<(payload: unknown) => void>,
  text: string,
  onError: (err: unknown) => void,
): void {
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch (err) {
    onError(err);
    return;
  }
  for (const listener of [...listeners]) {
    try {
      listener(payload);
    } catch (err) {
      onError(err);
    }
  }
}
