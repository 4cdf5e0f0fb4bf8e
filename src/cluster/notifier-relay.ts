/**
 * Wake-ups for a numbered event log with an end — a task, a workflow run — on every node. The node that
 * writes events (or the end) calls `published` / `ended` once the write is durable: its own listeners are
 * told at once, with what it wrote (no store read), and a small notice `{id, first, last}` / `{id, end}`
 * goes out on the notifier. Every other node that has listeners for that id reads the store (events after
 * the last seq it delivered; the subject's end) and tells them, in seq order. Nodes without listeners for
 * the id ignore the notice, so a notice costs a read only where someone is watching.
 *
 * After the notifier reconnects, anything may have been missed: every watched id is read again.
 * A notice is never trusted for data, only as "go and look": a lost or repeated one costs a read.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Notifier } from './notifier.ts';

export interface RelaySource<E extends { seq: number }, End> {
  /** The notifier channel of this kind of subject (`tasks`, `runs`). */
  channel: string;
  idOf(event: E): string;
  /** Stored events of `id` with seq > after, oldest first, at most `limit`. */
  readEvents(id: string, after: number, limit: number): Promise<E[]>;
  /** What `ended` listeners get, if the subject is over now; undefined while it is not. */
  readEnd(id: string): Promise<End | undefined>;
}

/** The notice on the wire: ids and numbers only (the notifier's payloads are bounded). */
interface Notice {
  id: string;
  /** The node that wrote: it told its own listeners already. */
  node: string;
  first?: number;
  last?: number;
  end?: boolean;
}

interface Pending {
  /** The lowest first seq announced since the last read, for a watcher whose position is not known yet. */
  from: number | undefined;
  end: boolean;
  /** After a reconnect: read everything the watcher may have missed, and check the end. */
  reread: boolean;
}

const PAGE = 500;

function isNotice(value: unknown): value is Notice {
  const n = value as Notice | null;
  const seq = (v: unknown) => v === undefined || (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0);
  return (
    typeof n === 'object' &&
    n !== null &&
    typeof n.id === 'string' &&
    n.id.length <= 200 &&
    typeof n.node === 'string' &&
    seq(n.first) &&
    seq(n.last) &&
    (n.end === undefined || typeof n.end === 'boolean')
  );
}

export class EventRelay<E extends { seq: number }, End> {
  readonly #source: RelaySource<E, End>;
  readonly #notifier: Notifier | undefined;
  readonly #onError: (err: unknown) => void;
  /** Tells this node's notices from the others': only other nodes' writes need a store read here. */
  readonly #node = randomUUID();
  readonly #emitter = new EventEmitter();
  /** Per watched id: the highest seq its event listeners were given. */
  readonly #delivered = new Map<string, number>();
  readonly #pending = new Map<string, Pending>();
  readonly #reading = new Set<string>();
  readonly #unsubscribe: Array<() => void> = [];

  constructor(source: RelaySource<E, End>, notifier?: Notifier, onError: (err: unknown) => void = () => undefined) {
    this.#source = source;
    this.#notifier = notifier;
    this.#onError = onError;
    // Every long-poll and SSE stream listens; there is no meaningful cap.
    this.#emitter.setMaxListeners(0);
    if (notifier) {
      this.#unsubscribe.push(
        notifier.subscribe(source.channel, (payload) => this.#heard(payload)),
        notifier.onReconnect(() => {
          for (const id of this.#watched()) this.#wake(id, { from: undefined, end: true, reread: true });
        }),
      );
    }
  }

  /** Call once `events` are durable: this node's listeners hear them now, the other nodes' after a read. */
  published(events: E[]): void {
    const byId = new Map<string, E[]>();
    for (const e of events) {
      const id = this.#source.idOf(e);
      byId.set(id, [...(byId.get(id) ?? []), e]);
    }
    for (const [id, list] of byId) {
      for (const e of list) this.#emitEvent(id, e);
      this.#publish({ id, node: this.#node, first: list[0]!.seq, last: list.at(-1)!.seq });
    }
  }

  /** Call once the subject's end is durable. */
  ended(id: string, end: End): void {
    this.#emitEnd(id, end);
    this.#publish({ id, node: this.#node, end: true });
  }

  onEvent(id: string, listener: (event: E) => void): () => void {
    return this.#listen(`event:${id}`, id, listener);
  }

  onEnd(id: string, listener: (end: End) => void): () => void {
    return this.#listen(`end:${id}`, id, listener);
  }

  close(): void {
    for (const off of this.#unsubscribe.splice(0)) off();
  }

  #listen<A>(name: string, id: string, listener: (arg: A) => void): () => void {
    this.#emitter.on(name, listener);
    return () => {
      this.#emitter.off(name, listener);
      if (this.#emitter.listenerCount(`event:${id}`) === 0) this.#delivered.delete(id);
    };
  }

  #watched(): string[] {
    const ids = new Set<string>();
    for (const name of this.#emitter.eventNames()) ids.add(String(name).slice(String(name).indexOf(':') + 1));
    return [...ids];
  }

  #emitEvent(id: string, event: E): void {
    const name = `event:${id}`;
    if (this.#emitter.listenerCount(name) === 0) return;
    const delivered = this.#delivered.get(id);
    if (delivered !== undefined && event.seq <= delivered) return;
    this.#delivered.set(id, event.seq);
    try {
      this.#emitter.emit(name, event);
    } catch (err) {
      this.#onError(err);
    }
  }

  #emitEnd(id: string, end: End): void {
    try {
      this.#emitter.emit(`end:${id}`, end);
    } catch (err) {
      this.#onError(err);
    }
  }

  #publish(notice: Notice): void {
    this.#notifier?.publish(this.#source.channel, notice).catch((err: unknown) => this.#onError(err));
  }

  #heard(payload: unknown): void {
    if (!isNotice(payload) || payload.node === this.#node) return;
    const { id } = payload;
    const watched = this.#emitter.listenerCount(`event:${id}`) + this.#emitter.listenerCount(`end:${id}`) > 0;
    if (!watched) return;
    this.#wake(id, { from: payload.first, end: payload.end === true, reread: false });
  }

  /** Reads for `id` run one at a time; what is asked meanwhile is merged into the next read. */
  #wake(id: string, ask: Pending): void {
    const p = this.#pending.get(id);
    this.#pending.set(
      id,
      p
        ? {
            from: p.from === undefined ? ask.from : ask.from === undefined ? p.from : Math.min(p.from, ask.from),
            end: p.end || ask.end,
            reread: p.reread || ask.reread,
          }
        : ask,
    );
    if (this.#reading.has(id)) return;
    this.#reading.add(id);
    void (async () => {
      try {
        for (let job = this.#pending.get(id); job; job = this.#pending.get(id)) {
          this.#pending.delete(id);
          await this.#read(id, job).catch((err: unknown) => this.#onError(err));
        }
      } finally {
        this.#reading.delete(id);
      }
    })();
  }

  async #read(id: string, job: Pending): Promise<void> {
    if ((job.from !== undefined || job.reread) && this.#emitter.listenerCount(`event:${id}`) > 0) {
      // A watcher that has heard nothing yet started from a replay of the store: what it lacks begins
      // at the first event announced since (one publisher's notices arrive in order), or anywhere
      // after a reconnect. The listeners drop what they already have by seq.
      const known = this.#delivered.get(id);
      let after = known ?? (job.reread || job.from === undefined ? 0 : Math.max(0, job.from - 1));
      for (;;) {
        const page = await this.#source.readEvents(id, after, PAGE);
        for (const e of page) this.#emitEvent(id, e);
        if (page.length < PAGE) break;
        after = page.at(-1)!.seq;
      }
    }
    if ((job.end || job.reread) && this.#emitter.listenerCount(`end:${id}`) > 0) {
      const end = await this.#source.readEnd(id);
      if (end !== undefined) this.#emitEnd(id, end);
    }
  }
}
