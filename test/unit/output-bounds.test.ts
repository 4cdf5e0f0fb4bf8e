/**
 * jsonSize measures what a value takes as JSON without building the JSON, and stops as soon as the
 * value is known to be over the limit; it never throws, however deep the value is nested.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jsonSize } from '../../src/workflow/output-bounds.ts';

const utf8 = (s: string) => Buffer.byteLength(s);

describe('jsonSize', () => {
  it('is at least the JSON size, and close to it for ordinary values', () => {
    for (const value of [
      'plain',
      { response: 'ok', data: { items: [1, 2.5, true, null, 'é€😀'], n: -3 } },
      [],
      {},
      'quote " backslash \\ newline \n control \u0001',
    ]) {
      const json = utf8(JSON.stringify(value));
      const size = jsonSize(value, Number.MAX_SAFE_INTEGER);
      assert.ok(size >= json, `${size} >= ${json} for ${JSON.stringify(value)}`);
      assert.ok(size <= json * 2 + 16, `${size} close to ${json}`);
    }
  });

  it('stops early once past the limit, without reading the rest', () => {
    assert.ok(jsonSize('x'.repeat(1000), 100) > 100);
    assert.ok(jsonSize(new Array(1_000_000).fill(0), 1000) > 1000);
    assert.ok(jsonSize({ a: 'x'.repeat(600), b: 'y'.repeat(600) }, 1000) > 1000);
    assert.ok(jsonSize({ a: 'x'.repeat(400) }, 1000) <= 1000, 'positive control: within the limit');
  });

  it('measures values nested far deeper than JSON.stringify can go', () => {
    const depth = 100_000;
    const deep = JSON.parse('['.repeat(depth) + ']'.repeat(depth));
    assert.throws(() => JSON.stringify(deep), RangeError);
    assert.equal(jsonSize(deep, Number.MAX_SAFE_INTEGER), 2 * depth);
  });
});
