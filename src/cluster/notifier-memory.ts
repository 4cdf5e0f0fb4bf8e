/**
 * The Notifier of one process (SQLite, or tests): an in-memory fan-out. Delivery is asynchronous and
 * the payload goes through JSON, as it would through PostgreSQL, so code written against this one does
 * not come to depend on a synchronous call or on sharing the publisher's object.
 */
import type { Notifier } from './notifier.ts';
import { deliver, encodePayload, wireChannel } from './notifier-wire.ts';

export class MemoryNotifier implements Notifier {
  readonly shared = false;
  readonly #channels = new Map<string, Set<(payload: unknown) => void>>();
  readonly #onError: (err: unknown) => void;
  #closed = false;

  constructor(options: { onError?: (err: unknown) => void } = {}) {
    this.#onError = options.onError ?? (() => undefined);
  }

  async publish(channel: string, payload: unknown): Promise<void> {
    const wire = wireChannel(channel);
    const text = encodePayload(channel, payload);
    if (this.#closed) return;
    setImmediate(() => {
      const listeners = this.#channels.get(wire);
      if (listeners && !this.#closed) deliver(listeners, text, this.#onError);
    });
  }

  subscribe(channel: string, listener: (payload: unknown) => void): () => void {
    const wire = wireChannel(channel);
    const listeners = this.#channels.get(wire) ?? new Set<(payload: unknown) => void>();
    this.#channels.set(wire, listeners);
    // A wrapper, so subscribing one function twice gives two independent subscriptions.
    const entry = (payload: unknown) => listener(payload);
    listeners.add(entry);
    return () => {
      listeners.delete(entry);
      if (listeners.size === 0 && this.#channels.get(wire) === listeners) this.#channels.delete(wire);
    };
  }

  /** One process has no connection to lose: reconnect listeners never run. */
  onReconnect(_listener: () => void): () => void {
    return () => undefined;
  }

  /** Nothing to wait for: a subscription is live when `subscribe` returns. */
  async ready(): Promise<void> {}

  async close(): Promise<void> {
    this.#closed = true;
    this.#channels.clear();
  }
}
