/**
 * The one way to build an Ajv for schemas a client or a workflow author wrote. Every `pattern` and
 * `patternProperties` key runs on RE2 (linear time) instead of JavaScript's backtracking RegExp, so a
 * schema like `{pattern: "^(a+)+$"}` against a crafted model reply cannot freeze the server; a pattern
 * RE2 cannot run fails `compile`, which callers report as a 400 naming output_schema.
 *
 * @example
 * const validate = createAjv({ allErrors: true }).compile({ type: 'string', pattern: '^[a-z]+$' });
 * validate('abc'); // true
 */
import { Ajv2020, type Options } from 'ajv/dist/2020.js';
import { compileLinearRegex } from './linear-regex.ts';

/** ajv's RegExpEngine: called with (source, flags); the flags ("u") are RE2's default behaviour already. */
function linearRegExp(pattern: string): { test(input: string): boolean } {
  return compileLinearRegex(pattern);
}
// Only read by ajv's standalone code generation, which Switchyard does not use.
linearRegExp.code = 'linearRegExp';

export type AjvOptions = Omit<Options, 'code' | 'allowMatchingProperties'>;

/**
 * A fresh Ajv (JSON Schema 2020-12) on the linear-time engine. Fresh per schema, not shared: ajv caches
 * every compiled schema and refuses a second schema with the same `$id`, so a shared instance would grow
 * with each client's schema and refuse the second task that reuses an `$id`.
 */
export function createAjv(options: AjvOptions = {}): Ajv2020 {
  return new Ajv2020({
    ...options,
    code: { regExp: linearRegExp },
    // Strict mode's check that no `properties` key matches a `patternProperties` pattern runs a native
    // RegExp over the schema's own keys at compile time, out of reach of code.regExp: turn it off.
    allowMatchingProperties: true,
  });
}
