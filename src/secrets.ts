/**
 * Secrets never reach task records, events, errors or logs. Known secret values (the configured
 * API keys and model credentials) and anything shaped like an Anthropic key are replaced before a
 * string is stored or logged.
 */
const KEY_SHAPES = /\bsk-ant-[A-Za-z0-9_-]{4,}/g;
const REDACTED = '[redacted]';

export class Redactor {
  readonly #values: string[];

  constructor(secrets: Array<string | undefined>) {
    // Short values would redact ordinary words; real keys are long.
    this.#values = [...new Set(secrets.filter((s): s is string => typeof s === 'string' && s.length >= 8))].sort(
      (a, b) => b.length - a.length,
    );
  }

  text(value: string): string {
    let out = value.replace(KEY_SHAPES, REDACTED);
    for (const secret of this.#values) if (out.includes(secret)) out = out.replaceAll(secret, REDACTED);
    return out;
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
