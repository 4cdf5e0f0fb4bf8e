/** Conversions between stored column values and our records, shared by the SQLite stores. */
import type { SQLInputValue } from 'node:sqlite';

export type Row = Record<string, SQLInputValue>;

/** A JSON column: null stays SQL NULL. */
export const json = (v: unknown): string | null => (v === null || v === undefined ? null : JSON.stringify(v));

export const parse = <T>(v: SQLInputValue | undefined): T | null =>
  v === null || v === undefined ? null : (JSON.parse(String(v)) as T);

/** A nullable text column. */
export const text = (v: SQLInputValue | undefined): string | null => (v === null || v === undefined ? null : String(v));
