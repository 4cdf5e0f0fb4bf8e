/** Conversions between stored column values and our records, shared by both dialects' stores. */

/** A row as a driver returns it; each mapper reads the columns it knows. */
export type Row = Record<string, unknown>;

/** A JSON column: null stays SQL NULL. */
export const json = (v: unknown): string | null => (v === null || v === undefined ? null : JSON.stringify(v));

export const parse = <T>(v: unknown): T | null => (v === null || v === undefined ? null : (JSON.parse(String(v)) as T));

/** A nullable text column. */
export const text = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
