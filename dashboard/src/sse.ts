/**
 * Reads a server-sent event stream with fetch, for the places where a page needs what a stream has
 * stored (an approval's message) but must not hold the connection open: a browser gives a host
 * only six HTTP/1.1 connections, and a page of open EventSources would starve its own fetches.
 */

export interface SseEvent {
  id: string;
  type: string;
  data: string;
}

export async function readSse(url: string, onEvent: (e: SseEvent) => void, signal: AbortSignal): Promise<void> {
  const res = await fetch(url, { headers: { accept: 'text/event-stream' }, credentials: 'same-origin', signal });
  if (!res.ok || !res.body) throw new Error(`HTTP ${res.status} for ${url}`);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replaceAll('\r\n', '\n');
    let end = buffer.indexOf('\n\n');
    while (end >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event: SseEvent = { id: '', type: 'message', data: '' };
      const data: string[] = [];
      for (const line of block.split('\n')) {
        const colon = line.indexOf(':');
        if (colon === 0) continue; // a comment (keep-alive)
        const field = colon < 0 ? line : line.slice(0, colon);
        const val = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event.type = val;
        else if (field === 'data') data.push(val);
        else if (field === 'id') event.id = val;
      }
      if (data.length > 0) onEvent({ ...event, data: data.join('\n') });
      end = buffer.indexOf('\n\n');
    }
  }
}

let queue: Promise<unknown> = Promise.resolve();

/** Runs stream reads one after another, so a page of them never takes all of the browser's connections. */
export function oneAtATime(read: () => Promise<void>): void {
  queue = queue.then(read).catch(() => undefined);
}
