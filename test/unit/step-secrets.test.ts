import assert from 'node:assert/strict';
import { test } from 'node:test';
import { literalOriginRule, secretUses } from '../../src/workflow/step-secrets.ts';

test('secretUses: plain {{ secrets.NAME }} outputs are uses; any other read of secrets is flagged', () => {
  assert.deepEqual(secretUses('no secrets here'), { names: [], other: false });
  assert.deepEqual(secretUses('Bearer {{ secrets.A }} and {{-secrets.B-}} and {{secrets.A}}'), {
    names: ['A', 'B'],
    other: false,
  });
  for (const tpl of [
    '{{ secrets.A | upcase }}',
    '{{ secrets["A"] }}',
    '{{ secrets }}',
    '{% if secrets.A %}x{% endif %}',
    '{% assign k = secrets.A %}{{ k }}',
    '{% capture k %}{{ secrets.A }}{% endcapture %}{{ k | slice: 0, 2 }}',
    '{% liquid\necho secrets.A\n%}',
  ]) {
    assert.equal(secretUses(tpl).other, true, tpl);
  }
  // The word alone, or a step output that mentions it, is no use of secrets.
  assert.deepEqual(secretUses('keep your secrets {{ step_1.secrets }}'), { names: [], other: false });
});

test('literalOriginRule: the scheme and host are literal and ended before the first tag', () => {
  for (const url of [
    'https://api.example.com/x?k={{ secrets.A }}',
    'https://api.example.com?k={{ secrets.A }}',
    'http://127.0.0.1:8080/{{ inputs.path }}',
    'https://api.example.com/fixed',
  ]) {
    assert.equal(literalOriginRule(url), undefined, url);
  }
  for (const url of [
    'https://{{ inputs.host }}/x',
    'https://api.example.com{{ inputs.suffix }}/x',
    'https://api.example.com:{{ inputs.port }}/x',
    'https://user:{{ secrets.A }}@api.example.com/',
    '{{ inputs.base }}/x',
    '{% if inputs.a %}https://a.example/{% endif %}',
  ]) {
    assert.match(literalOriginRule(url) ?? '', /scheme and host literally/, url);
  }
});
