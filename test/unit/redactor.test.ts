import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Redactor } from '../../src/secrets/redactor.ts';

const KEY = 'model-key-7f3a9c2e51d84b06a1c9';
const redactor = new Redactor([KEY, undefined, 'short']);

test('a configured key and any tail of it of 8 characters or more are redacted, wherever they stand', () => {
  assert.equal(redactor.text(`key=${KEY}; again ${KEY}`), 'key=[redacted]; again [redacted]');
  assert.equal(redactor.text(`shown as …${KEY.slice(-12)} in the UI`), 'shown as …[redacted] in the UI');
  assert.equal(redactor.text(`…${KEY.slice(-8)}`), '…[redacted]');
  // A longer tail goes whole, not just its last 8 characters.
  assert.equal(redactor.text(`tail ${KEY.slice(-20)}`), 'tail [redacted]');
  assert.equal(redactor.text(`${KEY}${KEY}`), '[redacted][redacted]');
});

test('what is not a secret is left alone: a 7-character tail, a head, short configured values', () => {
  // The control for the test above: redaction is not just "replace everything that looks odd".
  for (const text of [`…${KEY.slice(-7)}`, KEY.slice(0, 20), 'a short word', 'plain text with no key in it']) {
    assert.equal(redactor.text(text), text);
  }
});

test('keys shaped like an Anthropic key are redacted without being configured', () => {
  assert.equal(redactor.text('x sk-ant-api03-AbC_d-123 y'), 'x [redacted] y');
});

test('value() redacts every string inside a JSON value and an Error', () => {
  const out = redactor.value({ a: [KEY, 1, null], b: { c: `…${KEY.slice(-9)}` }, e: new Error(`bad ${KEY}`) });
  assert.deepEqual(out.a, ['[redacted]', 1, null]);
  assert.deepEqual(out.b, { c: '…[redacted]' });
  assert.ok(!JSON.stringify(out).includes(KEY.slice(-8)));
  assert.match(JSON.stringify(out.e), /bad \[redacted\]/);
});
