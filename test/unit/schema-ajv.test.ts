/** Every user schema's `pattern` runs on RE2 (src/schema/ajv.ts): no backtracking on crafted data. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compileUserSchema } from '../../src/schema/ajv.ts';
import {
  compileLinearRegex,
  MATCH_BUDGET,
  MatchBudgetError,
  UnsupportedPatternError,
} from '../../src/schema/linear-regex.ts';

// With JavaScript's RegExp, `^(a+)+$` against 40 a's and a "!" does not return for hours.
const CRAFTED = `${'a'.repeat(5000)}!`;

describe('compileUserSchema', () => {
  test('a backtracking pattern against crafted data is answered; matching data still validates', () => {
    const validate = compileUserSchema({ type: 'string', pattern: '^(a+)+$' });
    assert.equal(validate(CRAFTED), false);
    assert.equal(validate.errors?.[0]?.keyword, 'pattern');
    assert.equal(validate('a'.repeat(5000)), true);
  });

  test('patternProperties keys run on RE2 too, also for the strict-mode check of property names', () => {
    const schema = {
      type: 'object',
      properties: { [CRAFTED]: { type: 'string' } },
      patternProperties: { '^(a+)+$': { type: 'integer' } },
    };
    const validate = compileUserSchema(schema, { strict: true });
    assert.equal(validate({ [CRAFTED]: 'x' }), true);
    assert.equal(validate({ aaa: 'not an integer' }), false);
    assert.equal(validate({ aaa: 3 }), true);
  });

  test('JavaScript pattern syntax keeps its meaning', () => {
    const validate = compileUserSchema({
      type: 'object',
      properties: {
        word: { type: 'string', pattern: '^\\w+$' },
        accent: { type: 'string', pattern: '^caf\\u00e9$' },
        year: { type: 'string', pattern: '^(?<year>\\d{4})-\\d{2}$' },
        letters: { type: 'string', pattern: '^\\p{L}+$' },
        unanchored: { type: 'string', pattern: 'b' },
      },
    });
    assert.equal(
      validate({ word: 'a_1', accent: 'café', year: '2026-11', letters: 'Ünïcode', unanchored: 'abc' }),
      true,
    );
    for (const bad of [
      { word: 'a b' },
      { accent: 'cafe' },
      { year: '26-11' },
      { letters: 'a1' },
      { unanchored: 'ac' },
    ]) {
      assert.equal(validate(bad), false, JSON.stringify(bad));
    }
  });

  test('backreferences and lookaround do not compile, with a message saying why', () => {
    for (const pattern of ['^(a)\\1$', '^(?=a)a', '(?<!x)y', '(?!a)b']) {
      assert.throws(
        () => compileUserSchema({ type: 'string', pattern }),
        (err: unknown) =>
          err instanceof UnsupportedPatternError && /without backreferences or lookaround/.test(err.message),
        pattern,
      );
    }
    assert.equal(compileLinearRegex('^a+$').matches('aaa'), true);
  });

  test('a fresh compiler per schema: two schemas may share an $id', () => {
    const schema = { $id: 'https://example.test/s', type: 'string' };
    assert.equal(compileUserSchema(schema)('x'), true);
    assert.equal(compileUserSchema({ ...schema })('x'), true);
  });

  test('the meta-schema still applies, and strict mode still catches a misspelled keyword', () => {
    assert.throws(() => compileUserSchema({ type: 'strng' }), /^Error: schema is invalid: data\/type must be/);
    assert.throws(() => compileUserSchema({ type: 'object', propertees: {} }, { strict: true }), /unknown keyword/);
    assert.equal(compileUserSchema({ type: 'object', propertees: {} }, { strict: false })({}), true);
  });

  // Linear is input × program: `[\s\S]{1000}` walks a thousand instructions per character.
  test('a large program is refused; a long input for a large program is not run; short ones are', () => {
    assert.throws(
      () => compileLinearRegex('[a-z]{1000}[0-9]{1000}[A-Z]{1000}'),
      (err: unknown) => err instanceof UnsupportedPatternError && /instructions, more than 2000/.test(err.message),
    );
    const wide = compileLinearRegex('[\\s\\S]{1000}');
    assert.equal(wide.test('x'.repeat(1000)), true);
    assert.equal(wide.test('x'.repeat(999)), false);
    assert.throws(() => wide.test('x'.repeat(MATCH_BUDGET)), MatchBudgetError);
    const validate = compileUserSchema({ type: 'string', pattern: '[\\s\\S]{1000}' });
    assert.throws(() => validate('x'.repeat(MATCH_BUDGET)), /too long to check against pattern/);
    assert.equal(
      compileLinearRegex('^a+$').test('a'.repeat(MATCH_BUDGET / 10)),
      true,
      'a small program reads long input',
    );
  });
});

describe('compileUserSchema cache', () => {
  test('the same schema and options compile once; a bounded number of schemas is kept', () => {
    const schema = { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } };
    const first = compileUserSchema(structuredClone(schema));
    assert.equal(compileUserSchema(structuredClone(schema)), first, 'an equal schema compiled again');
    assert.notEqual(compileUserSchema(schema, { allErrors: true }), first, 'other options share a validator');
    // The control that the bound is real: after many distinct schemas, the first is compiled anew.
    for (let i = 0; i < 300; i++) compileUserSchema({ type: 'string', maxLength: i });
    const again = compileUserSchema(structuredClone(schema));
    assert.notEqual(again, first);
    assert.equal(again({ n: 1 }), true);
    assert.equal(again({ n: 'x' }), false);
  });
});
