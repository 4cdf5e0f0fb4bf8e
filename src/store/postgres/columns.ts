/** Conversions between stored column values and our records, as the PostgreSQL stores use them. */
import { json, parse } from '../columns.ts';

export { json, parse, type Row, text, toTranscript } from '../columns.ts';

/**
 * Free text from clients and models, stored JSON-encoded: a PostgreSQL text value cannot hold NUL, and a
 * lone surrogate would be replaced on the way to UTF-8; JSON's escapes carry both exactly.
 */
export const freeText = json;
export const readFreeText = (v: unknown): string | null => parse<string>(v);
