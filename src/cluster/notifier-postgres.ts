/**
 * The Notifier across processes: PostgreSQL LISTEN/NOTIFY. One dedicated connection LISTENs to the
 * channels that have subscribers in this process; publishes go through a one-connection pool of their
 * own (`SELECT pg_notify`), so one publisher's notifications arrive in the order it sent them and a
 * publish never waits behind the listening connection's reconnect.
 *
 * When the listening connection drops (server restart, pg_terminate_backend, network), it is opened
 * again with bounded exponential backoff; once every channel is LISTENed again, `onReconnect` listeners
 * run, since anything published in between was missed and must be re-read from the store.
 */
import pg from 'pg';
import type { Notifier } from './notifier.ts';
import { deliver, encodePayload, wireChannel } from './notifier-wire.ts';

export interface PostgresNotifierOptions {
  url: string;
  /** First reconnect delay; doubles per failed attempt up to `maxBackoffMs`. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** A listener that threw, a payload that was not JSON, a reconnect that failed. */
  onError?: (err: unknown) => void;
}

/** How an operator (and the reconnect test) tells the listening session apart in pg_stat_activity. */
export const LISTEN_APPLICATION_NAME = 'switchyard-listen';

export class PostgresNotifier implements Notifier {
  readonly shared = true;
  readonly #url: string;
  readonly #minBackoff: number;
  readonly #maxBackoff: number;
  readonly #onError: (err: unknown) => void;
  readonly #publisher: pg.Pool;
  readonly #channels = new Map<string, Set<(payload: unknown) => void>>();
  readonly #reconnectListeners = new Set<() => void>();
  /** The live listening connection, and the wire channels LISTENed on it. */
  #client: pg.Client | undefined;
  readonly #listening = new Set<string>();
  /** LISTEN/UNLISTEN commands run one at a time, in order. */
  #ops: Promise<void> = Promise.resolve();
  #retryTimer: NodeJS.Timeout | undefined;
  #failures = 0;
  #closed = false;

  private constructor(options: PostgresNotifierOptions) {
    this.#url = options.url;
    this.#minBackoff = options.minBackoffMs ?? 100;
    this.#maxBackoff = options.maxBackoffMs ?? 5000;
    this.#onError = options.onError ?? (() => undefined);
    this.#publisher = new pg.Pool({
      connectionString: options.url,
      max: 1,
      application_name: 'switchyard-notify',
    });
    // An idle publishing connection the server drops: the pool discards it, the next publish opens another.
    this.#publisher.on('error', () => undefined);
  }

  /** Connects the listening session; rejects if the database cannot be reached now. */
  static async open(options: PostgresNotifierOptions): Promise<PostgresNotifier> {
    const notifier = new PostgresNotifier(options);
    try {
      await notifier.#connect();
    } catch (err) {
      await notifier.close();
      throw err;
    }
    return notifier;
  }

  async publish(channel: string, payload: unknown): Promise<void> {
    const wire = wireChannel(channel);
    const text = encodePayload(channel, payload);
    if (this.#closed) return;
    await this.#publisher.query('SELECT pg_notify($1, $2)', [wire, text]);
  }

  subscribe(channel: string, listener: (payload: unknown) => void): () => void {
    const wire = wireChannel(channel);
    const listeners = this.#channels.get(wire) ?? new Set<(payload: unknown) => void>();
    this.#channels.set(wire, listeners);
    const entry = (payload: unknown) => listener(payload);
    listeners.add(entry);
    this.#syncInBackground();
    return () => {
      listeners.delete(entry);
      if (listeners.size > 0 || this.#channels.get(wire) !== listeners) return;
      this.#channels.delete(wire);
      this.#syncInBackground();
    };
  }

  onReconnect(listener: () => void): () => void {
    const entry = () => listener();
    this.#reconnectListeners.add(entry);
    return () => this.#reconnectListeners.delete(entry);
  }

  /** Resolves once every subscription made so far is LISTENed (or the connection is down, reconnecting). */
  async ready(): Promise<void> {
    await this.#ops;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    const client = this.#client;
    this.#client = undefined;
    this.#channels.clear();
    await client?.end().catch(() => undefined);
    await this.#publisher.end().catch(() => undefined);
  }

  async #connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.#url,
      application_name: LISTEN_APPLICATION_NAME,
      // A peer that vanished without closing (a cut network) is found by TCP keepalive, not never.
      keepAlive: true,
    });
    client.on('error', (err) => this.#lost(client, err));
    client.on('end', () => this.#lost(client));
    client.on('notification', (msg) => {
      if (this.#client !== client || msg.payload === undefined) return;
      const listeners = this.#channels.get(msg.channel);
      if (listeners) deliver(listeners, msg.payload, this.#onError);
    });
    try {
      await client.connect();
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    if (this.#closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.#client = client;
    this.#listening.clear();
    await this.#sync();
    if (this.#client !== client) throw new Error('the notifier connection was lost while it subscribed');
  }

  #syncInBackground(): void {
    this.#sync().catch((err: unknown) => this.#onError(err));
  }

  /** Queues a pass that LISTENs what has subscribers and UNLISTENs what has none. */
  #sync(): Promise<void> {
    const run = this.#ops.then(() => this.#syncNow());
    this.#ops = run.catch(() => undefined);
    return run;
  }

  async #syncNow(): Promise<void> {
    const client = this.#client;
    if (!client) return; // down: the reconnect LISTENs everything
    try {
      for (const wire of this.#channels.keys()) {
        if (this.#listening.has(wire)) continue;
        // The name passed wireChannel's check (a-z, 0-9, _), so quoting it is enough.
        await client.query(`LISTEN "${wire}"`);
        this.#listening.add(wire);
      }
      for (const wire of [...this.#listening]) {
        if (this.#channels.has(wire)) continue;
        await client.query(`UNLISTEN "${wire}"`);
        this.#listening.delete(wire);
      }
    } catch (err) {
      this.#lost(client, err);
      throw err;
    }
  }

  /** The listening connection is gone (or failed a command): drop it and reconnect. */
  #lost(client: pg.Client, err?: unknown): void {
    if (this.#client !== client) return;
    this.#client = undefined;
    this.#listening.clear();
    if (err !== undefined) this.#onError(err);
    void client.end().catch(() => undefined);
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#retryTimer) return;
    const delay = Math.min(this.#maxBackoff, this.#minBackoff * 2 ** this.#failures);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#connect().then(
        () => {
          if (this.#closed) return;
          this.#failures = 0;
          for (const listener of [...this.#reconnectListeners]) {
            try {
              listener();
            } catch (e) {
              this.#onError(e);
            }
          }
        },
        (e: unknown) => {
          this.#failures++;
          this.#onError(e);
          this.#scheduleReconnect();
        },
      );
    }, delay);
    // A process that is otherwise done (its server closed) is not kept alive by a reconnect.
    this.#retryTimer.unref();
  }
}
