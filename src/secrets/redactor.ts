/**
 * Secrets never reach task records, events, errors or logs. Known secret values (the configured
 * API keys and model credentials), their tails, and anything shaped like an Anthropic key are
 * replaced before a string is stored or logged.
 */
const KEY_SHAPES = /\bsk-ant-[A-Za-z0-9_-]{4,}/g;
const REDACTED = '[redacted]';
/**
 * A key's tail is what dashboards and error messages show of it ("…51d84b06a1c9"), and it is the
 * part that tells one key from another, so any tail this long or longer is redacted too.
 */
const MIN_TAIL = 8;

export class Redactor {
  readonly #values: string[];

  constructor(secrets: Array<string | undefined>) {
    // Short values would redact ordinary words; real keys are long.
    this.#values = [...new Set(secrets.filter((s): s is string => typeof s === 'string' && s.length >= 8))].sort(
      (a, b) => b.length - a.length,
    );
  }

  text(value: string): string {
    const out = value.replace(KEY_SHAPES, REDACTED);
    // Every secret's matches are found in the same text and merged: forms of one secret share a tail
    // (raw and JSON-escaped), and redacting one first would leave the other's head standing.
    const ranges = this.#values.flatMap((secret) => tailRanges(out, secret));
    if (ranges.length === 0) return out;
    ranges.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
    let result = '';
    let copied = 0;
    let [start, end] = ranges[0] as [number, number];
    for (const [s, e] of ranges.slice(1)) {
      if (s < end) {
        end = Math.max(end, e);
        continue;
      }
      result += out.slice(copied, start) + REDACTED;
      copied = end;
      [start, end] = [s, e];
    }
    return result + out.slice(copied, start) + REDACTED + out.slice(end);
  }

  /** Redacts every string inside a JSON-compatible value. */
  value<T>(value: T): T {
    if (typeof value === 'string') return this.text(value) as T;
    if (Array.isArray(value)) return value.map((v) => this.value(v)) as T;
    if (value instanceof Error) {
      // Errors keep their message and stack (non-enumerable, so copied by hand), redacted.
      return { type: value.name, message: this.text(value.message), stack: this.text(value.stack ?? '') } as T;
    }
    if (value !== null && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = this.value(v);
      return out as T;
    }
    return value;
  }
}

/** Every run of text that is a tail of secret (the whole secret included) of MIN_TAIL or more, as [start, end). */
function tailRanges(text: string, secret: string): Array<[number, number]> {
  const tail = secret.slice(-MIN_TAIL);
  const ranges: Array<[number, number]> = [];
  let at = text.indexOf(tail);
  let previous = 0;
  while (at >= 0) {
    // Grow the match leftwards while it still spells the secret backwards from its last character.
    const end = at + tail.length;
    let start = at;
    let s = secret.length - tail.length;
    while (s > 0 && start > previous && text[start - 1] === secret[s - 1]) {
      start--;
      s--;
    }
    ranges.push([start, end]);
    previous = end;
    at = text.indexOf(tail, end);
  }
  return ranges;
}

/**
 * A secret as the places it is rendered into write it: as is (a header, a JSON body built as data),
 * percent-encoded (a URL: template.ts renderUrl) and escaped inside a JSON string (a JSON text body),
 * and escaped twice, as a server that echoes a JSON request body inside its JSON reply writes it.
 * Give the Redactor all of them, so a recorded URL or an echoed body does not keep an encoded copy.
 */
export function secretForms(value: string): string[] {
  const json = jsonEscaped(value);
  return [...new Set([value, encodeURIComponent(value), json, jsonEscaped(json)])];
}

function jsonEscaped(text: string): string {
  return JSON.stringify(text).slice(1, -1);
}
