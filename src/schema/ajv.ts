/**
 * The one way to compile a schema that a client or a workflow author wrote. Every `pattern` and
 * `patternProperties` key runs on RE2 (linear time) instead of JavaScript's backtracking RegExp, so a
 * schema like `{pattern: "^(a+)+$"}` against a crafted model reply cannot freeze the server; a pattern
 * RE2 cannot run fails to compile, which callers report as a 400 naming the field.
 *
 * @example
 * const validate = compileUserSchema({ type: 'string', pattern: '^[a-z]+$' }, { allErrors: true });
 * validate('abc'); // true
 */
import { Ajv2020, type Options, type ValidateFunction } from 'ajv/dist/2020.js';
import { compileLinearRegex } from './linear-regex.ts';

/** ajv's RegExpEngine: called with (source, flags); the flags ("u") are RE2's default behaviour already. */
function linearRegExp(pattern: string): { test(input: string): boolean } {
  return compileLinearRegex(pattern);
}
// Only read by ajv's standalone code generation, which Switchyard does not use.
linearRegExp.code = 'linearRegExp';

export type UserSchemaOptions = Pick<
  Options,
  'strict' | 'strictTypes' | 'strictTuples' | 'allErrors' | 'useDefaults' | 'validateFormats'
>;

function newAjv(options: Options): Ajv2020 {
  return new Ajv2020({
    ...options,
    code: { regExp: linearRegExp },
    // Strict mode's check that no `properties` key matches a `patternProperties` pattern runs a native
    // RegExp over the schema's own keys at compile time, out of reach of code.regExp: turn it off.
    allowMatchingProperties: true,
  });
}

// The 2020-12 meta-schema costs tens of milliseconds to compile: once per process, not per schema.
// User schemas are only validated as data here, never added, so nothing of theirs accumulates.
let metaValidator: Ajv2020 | undefined;

/**
 * Checks `schema` against the JSON Schema 2020-12 meta-schema, then compiles it on a fresh Ajv. Fresh,
 * because ajv keeps every compiled schema and refuses a second one with the same `$id`: a shared
 * instance would grow with each client's schema and refuse the next task that reuses an `$id`.
 * Throws an Error whose message says what is wrong (ajv's words, or the pattern RE2 refused).
 */
export function compileUserSchema(schema: object, options: UserSchemaOptions = {}): ValidateFunction {
  // The same schema comes back on every run of a workflow and every task of a pipeline: compile once.
  const key = JSON.stringify([options, schema]);
  const cached = compiled.get(key);
  if (cached) {
    compiled.delete(key);
    compiled.set(key, cached); // most recently used last
    return cached;
  }
  metaValidator ??= newAjv({ strict: false });
  if (!metaValidator.validateSchema(schema)) {
    throw new Error(`schema is invalid: ${metaValidator.errorsText(metaValidator.errors)}`);
  }
  const validate = newAjv({ ...options, validateSchema: false, meta: false }).compile(schema);
  compiled.set(key, validate);
  if (compiled.size > MAX_CACHED) compiled.delete(compiled.keys().next().value!);
  return validate;
}

/**
 * Compiled validators by content, least recently used first. Bounded, so distinct schemas from many
 * clients never grow the heap; a validator is only called synchronously, so sharing one is safe.
 */
const compiled = new Map<string, ValidateFunction>();
const MAX_CACHED = 256;
