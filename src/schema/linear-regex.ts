/**
 * Regular expressions from clients and models, matched by RE2 (re2js): time linear in the input, so a
 * pattern like `^(a+)+$` cannot hold the event loop (DESIGN.md "The tool boundary"). Features that need
 * backtracking (backreferences, lookaround) do not compile; callers turn that into a 400 naming the field.
 *
 * Linear is O(input × program): RE2's worst case walks every instruction per character (about 0.3 µs
 * each here, for `[\s\S]{1000}`). So programs are capped when compiled, and a match whose worst case
 * exceeds MATCH_BUDGET throws MatchBudgetError instead of running; callers decide what that means.
 *
 * @example
 * const digits = compileLinearRegex('^\\d+$');
 * digits.test('123'); // true
 */
import { RE2JS } from 're2js';

/** Instructions a compiled pattern may have: `\d{4}-\d{2}-\d{2}` has 12, a UUID pattern 40. */
export const MAX_PROGRAM_SIZE = 2000;
/** Input characters × program instructions one match may cost at worst (about a second). */
export const MATCH_BUDGET = 5_000_000;

/** The slice of a compiled pattern callers use; `toString` is the source (ajv keys compiled patterns by it). */
export interface LinearRegex {
  /** True when the pattern occurs anywhere in the input, like RegExp#test. Throws MatchBudgetError. */
  test(input: string): boolean;
  /** True when the pattern matches the whole input. Throws MatchBudgetError. */
  matches(input: string): boolean;
  toString(): string;
}

function shown(pattern: string): string {
  return JSON.stringify(pattern.length > 100 ? `${pattern.slice(0, 100)}…` : pattern);
}

/** A pattern RE2 cannot run in linear time, or cannot parse at all. */
export class UnsupportedPatternError extends Error {
  constructor(pattern: string, cause: unknown) {
    const detail = cause instanceof Error ? cause.message.replace(/^error parsing regexp: /, '') : String(cause);
    super(
      `pattern ${shown(pattern)} is not supported (${detail}); patterns are matched in linear time, ` +
        'without backreferences or lookaround',
      { cause },
    );
  }
}

/** An input too long for this pattern's worst case within MATCH_BUDGET. */
export class MatchBudgetError extends Error {
  readonly maxLength: number;

  constructor(pattern: string, maxLength: number) {
    super(`a string longer than ${maxLength} characters is too long to check against pattern ${shown(pattern)}`);
    this.maxLength = maxLength;
  }
}

/**
 * Compiles a pattern for RE2; throws UnsupportedPatternError. JavaScript syntax (`\u00e9`, `(?<name>…)`)
 * is translated unless `syntax: 're2'` says the source was generated in RE2's own syntax.
 */
export function compileLinearRegex(pattern: string, options: { syntax?: 'js' | 're2' } = {}): LinearRegex {
  let compiled: RE2JS;
  try {
    compiled = RE2JS.compile(options.syntax === 're2' ? pattern : RE2JS.translateRegExp(pattern));
  } catch (err) {
    throw new UnsupportedPatternError(pattern, err);
  }
  const size = compiled.programSize();
  if (size > MAX_PROGRAM_SIZE) {
    throw new UnsupportedPatternError(
      pattern,
      new Error(`it compiles to ${size} instructions, more than ${MAX_PROGRAM_SIZE}: use smaller repeat counts`),
    );
  }
  const maxLength = Math.floor(MATCH_BUDGET / Math.max(size, 1));
  const checked = (input: string): string => {
    if (input.length > maxLength) throw new MatchBudgetError(pattern, maxLength);
    return input;
  };
  return {
    test: (input) => compiled.test(checked(input)),
    matches: (input) => compiled.matches(checked(input)),
    toString: () => pattern,
  };
}
