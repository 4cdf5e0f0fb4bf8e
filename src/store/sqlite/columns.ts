/** Conversions between stored column values and our records, as the SQLite stores use them. */
export { json, parse, type Row, text, toTranscript } from '../columns.ts';
