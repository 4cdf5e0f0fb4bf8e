/**
 * Regular expressions from clients and models, matched by RE2 (re2js): time linear in the input, so a
 * pattern like `^(a+)+$` cannot hold the event loop (DESIGN.md "The tool boundary"). Features that need
 * backtracking (backreferences, lookaround) do not compile; callers turn that into a 400 naming the field.
 *
 * @example
 * const digits = compileLinearRegex('^\\d+$');
 * digits.test('123'); // true
 */
import { RE2JS } from 're2js';

/** The slice of a compiled pattern callers use; `toString` is the source (ajv keys compiled patterns by it). */
export interface LinearRegex {
  /** True when the pattern occurs anywhere in the input, like RegExp#test. */
  test(input: string): boolean;
  /** True when the pattern matches the whole input. */
  matches(input: string): boolean;
  toString(): string;
}

/** A pattern RE2 cannot run in linear time, or cannot parse at all. */
export class UnsupportedPatternError extends Error {
  constructor(pattern: string, cause: unknown) {
    const detail = cause instanceof Error ? cause.message.replace(/^error parsing regexp: /, '') : String(cause);
    super(
      `pattern ${JSON.stringify(pattern.length > 100 ? `${pattern.slice(0, 100)}…` : pattern)} is not supported ` +
        `(${detail}); patterns are matched in linear time, without backreferences or lookaround`,
      { cause },
    );
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
  return {
    test: (input) => compiled.test(input),
    matches: (input) => compiled.matches(input),
    toString: () => pattern,
  };
}
