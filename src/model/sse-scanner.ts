/**
 * Picks a few events out of a server-sent event stream as its chunks pass through the model proxy.
 * The chunks themselves go on to the client untouched; the scanner only looks at them. It keeps
 * bytes only for the lines it wants (`event:` lines and the `data:` lines of wanted events, which
 * are small: usage and block headers), and skips the bulk of a response (text and tool input
 * deltas) byte by byte to the next newline without decoding or copying it. Lines may be split
 * anywhere across chunks, even inside a multi-byte character.
 */

/** A wanted data line longer than this is skipped: usage events are a few hundred bytes. */
const MAX_LINE = 256 * 1024;
const NEWLINE = 0x0a;
/** Long enough to tell `data:` from `event:` and read an unnamed event's type. */
const HEAD = 96;
const UNNAMED_TYPE = /^data:\s*\{\s*"type"\s*:\s*"([a-z_]+)"/;

export class SseScanner {
  readonly #wanted: ReadonlySet<string>;
  readonly #onEvent: (event: string, data: string) => void;
  /** The current event's name, from its `event:` line; '' until one is seen. */
  #event = '';
  /** The current line so far, while it may be wanted. */
  #pieces: Buffer[] = [];
  #length = 0;
  /** The current line is not wanted: drop bytes up to the next newline. */
  #skipping = false;
  /** The current line's head was read and it is wanted: keep it without looking again. */
  #keeping = false;

  constructor(wanted: Iterable<string>, onEvent: (event: string, data: string) => void) {
    this.#wanted = new Set(wanted);
    this.#onEvent = onEvent;
  }

  feed(chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(NEWLINE, start);
      const end = newline === -1 ? chunk.length : newline;
      if (!this.#skipping && end > start) {
        this.#pieces.push(chunk.subarray(start, end));
        this.#length += end - start;
        if (this.#length > MAX_LINE) this.#skip();
        else if (newline === -1 && !this.#keeping && this.#length >= HEAD) {
          if (this.#mayWant()) this.#keeping = true;
          else this.#skip();
        }
      }
      if (newline === -1) return;
      if (!this.#skipping) this.#line();
      this.#pieces = [];
      this.#length = 0;
      this.#skipping = false;
      this.#keeping = false;
      start = newline + 1;
    }
  }

  #skip(): void {
    this.#skipping = true;
    this.#pieces = [];
    this.#length = 0;
  }

  #head(): string {
    const first = this.#pieces[0];
    const head =
      first && first.length >= HEAD ? first.subarray(0, HEAD) : Buffer.concat(this.#pieces).subarray(0, HEAD);
    return head.toString('latin1');
  }

  /** Decided from the first HEAD bytes of a line that is still arriving. */
  #mayWant(): boolean {
    const head = this.#head();
    if (head.startsWith('event:')) return true;
    if (!head.startsWith('data:')) return false;
    if (this.#event) return this.#wanted.has(this.#event);
    const type = UNNAMED_TYPE.exec(head)?.[1];
    return type !== undefined && this.#wanted.has(type);
  }

  #line(): void {
    if (this.#length === 0 || (this.#length === 1 && this.#pieces[0]![0] === 0x0d)) {
      this.#event = ''; // a blank line ends the event
      return;
    }
    if (!this.#keeping && !this.#mayWant()) return; // most lines: decided from their head, never decoded
    let text = (this.#pieces.length === 1 ? this.#pieces[0]! : Buffer.concat(this.#pieces)).toString('utf8');
    if (text.endsWith('\r')) text = text.slice(0, -1);
    if (text.startsWith('event:')) {
      this.#event = text.slice(6).trim();
      return;
    }
    const event = this.#event || (UNNAMED_TYPE.exec(text)?.[1] ?? '');
    this.#onEvent(event, text.slice(5).trimStart());
  }
}
