/** Conversions between stored column values and our records, shared by both dialects' stores. */
import type { TaskTranscript } from './store.ts';

/** A row as a driver returns it; each mapper reads the columns it knows. */
export type Row = Record<string, unknown>;

/** A JSON column: null stays SQL NULL. */
export const json = (v: unknown): string | null => (v === null || v === undefined ? null : JSON.stringify(v));

export const parse = <T>(v: unknown): T | null => (v === null || v === undefined ? null : (JSON.parse(String(v)) as T));

/** A nullable text column. */
export const text = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

/** A task_transcripts row: content is a BLOB (SQLite's Uint8Array) or BYTEA (pg's Buffer), NULL when over the cap. */
export function toTranscript(row: Row): TaskTranscript {
  return {
    task_id: String(row.task_id),
    session_id: String(row.session_id),
    content: row.content === null ? null : new Uint8Array(row.content as Uint8Array),
    size: Number(row.size),
    updated_at: String(row.updated_at),
  };
}
