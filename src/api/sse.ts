/**
 * Server-sent events over a stored, numbered event log: replay what the client has not seen, then
 * follow the live feed until the subject (a task, a run) is over. Used by task and run streams, so
 * both resume the same way (Last-Event-ID) and end the same way.
 */
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import { AppError } from '../errors.ts';

export interface StoredEvent {
  seq: number;
  type: string;
  data: unknown;
}

export interface EventFeed<E extends StoredEvent> {
  /** Stored events with seq > after, oldest first, at most `limit`. */
  replay(after: number, limit: number): Promise<E[]>;
  /** Live events; returns the unsubscribe function. */
  subscribe(listener: (event: E) => void): () => void;
  /**
   * What an event says about the end of the stream: true — the subject is over (a terminal status);
   * false — it is live again (a follow-up, a rerun); undefined — no change.
   */
  ends(event: E): boolean | undefined;
  /**
   * Whether the subject is over now. Checked once after the replay, so a client that resumes after
   * the last event, or a subject whose log holds no ending event, still gets a stream that ends.
   */
  isOver(): Promise<boolean>;
}

const PAGE = 500;
const KEEP_ALIVE_MS = 15_000;

/** The seq to resume after, from Last-Event-ID (or `?after=` for clients that cannot set headers). */
export function resumeAfter(c: Context): number {
  const lastId = c.req.header('last-event-id') ?? c.req.query('after');
  if (lastId === undefined || lastId === '') return 0;
  if (!/^\d{1,12}$/.test(lastId)) {
    throw new AppError('validation', 'Last-Event-ID must be an event id from this stream', {
      field: 'Last-Event-ID',
    });
  }
  return Number(lastId);
}

export function streamEvents<E extends StoredEvent>(c: Context, feed: EventFeed<E>): Response {
  let after = resumeAfter(c);
  return streamSSE(c, async (stream) => {
    // Subscribe before replaying so nothing falls between the replay and the live feed; the seq
    // check drops what the replay already sent.
    const live: E[] = [];
    let wake: (() => void) | undefined;
    const off = feed.subscribe((e) => {
      live.push(e);
      wake?.();
    });
    stream.onAbort(() => {
      off();
      wake?.();
    });
    let ended = false;
    const send = async (e: E) => {
      after = e.seq;
      await stream.writeSSE({ id: String(e.seq), event: e.type, data: JSON.stringify(e.data) });
      ended = feed.ends(e) ?? ended;
    };
    try {
      const replayAll = async () => {
        for (;;) {
          const page = await feed.replay(after, PAGE);
          for (const e of page) await send(e);
          if (page.length < PAGE) return;
        }
      };
      await replayAll();
      if (!ended && (await feed.isOver())) {
        // Over by now: whatever it logged on the way is stored; send that, then end.
        await replayAll();
        ended = true;
      }
      while (!ended && !stream.aborted) {
        if (live.length === 0) {
          let timer: NodeJS.Timeout | undefined;
          await new Promise<void>((resolve) => {
            wake = resolve;
            timer = setTimeout(resolve, KEEP_ALIVE_MS);
          });
          clearTimeout(timer);
          wake = undefined;
          if (live.length === 0 && !stream.aborted) await stream.write(': keep-alive\n\n');
          continue;
        }
        const e = live.shift()!;
        if (e.seq <= after) continue;
        await send(e);
      }
    } finally {
      off();
    }
  });
}
