/** Conversions between stored column values and our records, shared by the PostgreSQL stores. */

// biome-ignore lint/suspicious/noExplicitAny: a row as pg returns it; each mapper reads the columns it knows.
export type Row = Record<string, any>;

/** A JSON column: null stays SQL NULL. */
export const json = (v: unknown): string | null => (v === null || v === undefined ? null : JSON.stringify(v));

export const parse = <T>(v: unknown): T | null => (v === null || v === undefined ? null : (JSON.parse(String(v)) as T));

/** A nullable text column. */
export const text = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

/**
 * Free text from clients and models, stored JSON-encoded: a PostgreSQL text value cannot hold NUL, and a
 * lone surrogate would be replaced on the way to UTF-8; JSON's escapes carry both exactly.
 */
export const freeText = json;
export const readFreeText = (v: unknown): string | null => parse<string>(v);
