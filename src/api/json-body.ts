import type { Context } from 'hono';
import { AppError } from '../errors.ts';

const MAX_DEPTH = 64;

/** Rejects absurdly nested JSON before parsing, so validation can never recurse out of stack. */
function checkDepth(text: string): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 92 /* \ */) i++;
      else if (ch === 34 /* " */) inString = false;
    } else if (ch === 34) inString = true;
    else if (ch === 123 /* { */ || ch === 91 /* [ */) {
      if (++depth > MAX_DEPTH) {
        throw new AppError('validation', `body is nested deeper than ${MAX_DEPTH} levels`, { field: 'body' });
      }
    } else if (ch === 125 || ch === 93) depth--;
  }
}

/** Reads a JSON request body; malformed or absent JSON is a 400 naming the body. */
export async function readJson(c: Context, options: { optional?: boolean } = {}): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === '') {
    if (options.optional) return {};
    throw new AppError('validation', 'body must be a JSON object', { field: 'body' });
  }
  checkDepth(text);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new AppError('validation', `body is not valid JSON: ${(err as Error).message}`, { field: 'body' });
  }
}
