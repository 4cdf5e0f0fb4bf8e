import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError } from '../../src/errors.ts';
import { buildPrompt, referencesSteps } from '../../src/workflow/context.ts';
import {
  isSingleExpression,
  MAX_TEMPLATE_CHARS,
  renderJson,
  renderJsonText,
  renderList,
  renderText,
  renderUrl,
  scopeReads,
  templateReferences,
  templateScope,
} from '../../src/workflow/template.ts';

const INJECTION = '"}, "admin": true, "x": "';

function scope(extra: { item?: unknown; itemIndex?: number } = {}) {
  return templateScope({
    inputs: { topic: 'rates', secret: 'hunter2' },
    outputs: {
      step_1: {
        response: 'raw {{ inputs.secret }} text',
        data: { items: [{ id: 7 }, { id: '../admin?a=b&c=d#frag' }], count: 2, evil: INJECTION },
        usage: { input_tokens: 3, output_tokens: 4, cost_usd: 0.01 },
      },
      'step-2': { response: 'dashed' },
    },
    ...extra,
  });
}

/** Asserts a validation AppError whose message matches every pattern. */
function rejects(fn: () => unknown, ...patterns: RegExp[]) {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof AppError, `expected AppError, got ${String(err)}`);
    assert.equal(err.kind, 'validation');
    for (const p of patterns) assert.match(err.message, p);
    return true;
  });
}

describe('renderText', () => {
  it('renders step outputs by name and under steps, and inputs', () => {
    const out = renderText('{{ step_1.data.count }}/{{ steps.step_1.data.items[0].id }}/{{ inputs.topic }}', scope());
    assert.equal(out, '2/7/rates');
    assert.equal(renderText('{{ step-2.response }}', scope()), 'dashed');
  });

  it('renders objects and arrays as JSON, not [object Object]', () => {
    assert.equal(renderText('{{ step_1.data.items }}', scope()), '[{"id":7},{"id":"../admin?a=b&c=d#frag"}]');
    assert.equal(renderText('{{ step_1.usage.output_tokens }}', scope()), '4');
  });

  it('refuses unknown variables and properties instead of rendering an empty string', () => {
    rejects(() => renderText('a {{ step_9.response }} b', scope()), /undefined variable: step_9/);
    rejects(() => renderText('{{ step_1.respnse }}', scope()), /step_1\.respnse/);
    rejects(() => renderText('{{ inputs.nope }}', scope()), /inputs\.nope/);
    rejects(() => renderText('{{ item }}', scope()), /undefined variable: item/);
  });

  it('names the field in errors when given one', () => {
    assert.throws(
      () => renderText('{{ nope }}', scope(), { field: 'steps.s.prompt' }),
      (err: unknown) =>
        err instanceof AppError && err.field === 'steps.s.prompt' && /^steps\.s\.prompt: /.test(err.message),
    );
  });

  it('gives no access to prototypes', () => {
    for (const tpl of [
      '{{ step_1.constructor }}',
      '{{ step_1.__proto__ }}',
      '{{ step_1["constructor"] }}',
      '{{ step_1.response.constructor.name }}',
      '{{ inputs.hasOwnProperty }}',
      '{{ step_1.data.items.constructor }}',
      '{{ step_1.toString }}',
    ]) {
      rejects(() => renderText(tpl, scope()), /undefined variable/);
    }
  });

  it('refuses unknown filters and file tags', () => {
    rejects(() => renderText('{{ step_1.response | shell }}', scope()), /undefined filter: shell/);
    rejects(() => renderText('{% include "/etc/passwd" %}', scope()), /include/);
    rejects(() => renderText('{% render "x" %}', scope()), /render/);
    rejects(() => renderText('{% layout "x" %}', scope()), /layout/);
  });

  it('never renders a value again: an output containing {{ }} is data', () => {
    assert.equal(renderText('>{{ step_1.response }}<', scope()), '>raw {{ inputs.secret }} text<');
    assert.doesNotMatch(renderText('{{ step_1.response }}', scope()), /hunter2/);
  });

  it('bounds template length, output size and loops', () => {
    rejects(() => renderText('x'.repeat(MAX_TEMPLATE_CHARS + 1), scope()), /too long/);
    const big = templateScope({ inputs: {}, outputs: { s: { response: 'x'.repeat(1 << 20) } } });
    rejects(() => renderText('{% for i in (1..20) %}{{ s.response }}{% endfor %}', big), /exceeds/);
    rejects(() => renderText('{% for i in (1..100000000) %}x{% endfor %}', scope()), /limit/);
  });

  it('reports syntax errors as validation errors', () => {
    rejects(() => renderText('{{ step_1.response ', scope()), /syntax error/);
  });

  it('caches parsed templates without mixing up scopes', () => {
    const tpl = '{{ inputs.topic }}';
    assert.equal(renderText(tpl, templateScope({ inputs: { topic: 'a' }, outputs: {} })), 'a');
    assert.equal(renderText(tpl, templateScope({ inputs: { topic: 'b' }, outputs: {} })), 'b');
  });

  it('exposes item and item_index only inside for_each', () => {
    assert.equal(renderText('{{ item.id }}#{{ item_index }}', scope({ item: { id: 'x' }, itemIndex: 3 })), 'x#3');
  });
});

describe('renderUrl', () => {
  it('percent-encodes every output, so a value cannot add path segments or query parameters', () => {
    const url = renderUrl('https://x.test/items/{{ step_1.data.items[1].id }}?q={{ inputs.topic }}', scope());
    assert.equal(url, 'https://x.test/items/..%2Fadmin%3Fa%3Db%26c%3Dd%23frag?q=rates');
    const parsed = new URL(url);
    assert.equal(parsed.pathname, '/items/..%2Fadmin%3Fa%3Db%26c%3Dd%23frag');
    assert.deepEqual([...parsed.searchParams.keys()], ['q']);
    assert.equal(parsed.hash, '');
  });

  it('does not let `| raw` skip the encoding', () => {
    rejects(() => renderUrl('https://x.test/{{ step_1.data.items[1].id | raw }}', scope()), /undefined filter: raw/);
  });

  it('encodes outputs of loops and echo too', () => {
    const url = renderUrl('https://x.test/?{% for i in step_1.data.items %}id={{ i.id }}&{% endfor %}', scope());
    assert.equal(url, 'https://x.test/?id=7&id=..%2Fadmin%3Fa%3Db%26c%3Dd%23frag&');
    assert.equal(renderUrl('/{% echo step_1.data.items[1].id %}', scope()), '/..%2Fadmin%3Fa%3Db%26c%3Dd%23frag');
  });
});

describe('renderJson', () => {
  it('keeps a whole-string expression as its JSON value', () => {
    const body = renderJson(
      { items: '{{ step_1.data.items }}', n: '{{ step_1.data.count }}', t: ' {{ inputs.topic }} ', keep: 5, no: null },
      scope(),
    );
    assert.deepEqual(body, {
      items: [{ id: 7 }, { id: '../admin?a=b&c=d#frag' }],
      n: 2,
      t: 'rates',
      keep: 5,
      no: null,
    });
  });

  it('renders other strings as text inside their own string: injected quotes cannot add keys', () => {
    const body = renderJson({ name: 'x {{ step_1.data.evil }} y', list: ['{{ inputs.topic }}!'] }, scope());
    const wire = JSON.parse(JSON.stringify(body));
    assert.deepEqual(Object.keys(wire), ['name', 'list']);
    assert.equal(wire.name, `x ${INJECTION} y`);
    assert.equal(wire.admin, undefined);
    assert.deepEqual(wire.list, ['rates!']);
  });

  it('does not expand templates inside values, whole-string or not', () => {
    assert.deepEqual(renderJson({ a: '{{ step_1.response }}', b: '<{{ step_1.response }}>' }, scope()), {
      a: 'raw {{ inputs.secret }} text',
      b: '<raw {{ inputs.secret }} text>',
    });
  });

  it('returns copies, keeps __proto__ as a plain key, and names nested fields in errors', () => {
    const s = scope();
    const out = renderJson({ items: '{{ step_1.data.items }}' }, s) as { items: Array<{ id: unknown }> };
    out.items[0]!.id = 'changed';
    assert.equal(renderText('{{ step_1.data.items[0].id }}', s), '7');
    const proto = renderJson(JSON.parse('{"__proto__": {"polluted": "{{ inputs.topic }}"}}'), s) as object;
    assert.equal(Object.getPrototypeOf(proto), Object.prototype);
    assert.deepEqual(Object.getOwnPropertyDescriptor(proto, '__proto__')?.value, { polluted: 'rates' });
    assert.throws(
      () => renderJson({ h: { x: ['{{ nope }}'] } }, s, { field: 'steps.s.body' }),
      (err: unknown) => err instanceof AppError && err.field === 'steps.s.body.h.x[0]',
    );
  });
});

describe('renderJsonText', () => {
  it('escapes each output as JSON string content', () => {
    const text = renderJsonText('{"name": "{{ step_1.data.evil }}", "topic": "{{ inputs.topic }}"}', scope());
    const parsed = JSON.parse(text);
    assert.deepEqual(Object.keys(parsed), ['name', 'topic']);
    assert.equal(parsed.name, INJECTION);
  });

  it('escapes structured values too, so they stay inside the string', () => {
    const parsed = JSON.parse(renderJsonText('{"d": "{{ step_1.data }}"}', scope()));
    assert.deepEqual(Object.keys(parsed), ['d']);
    assert.deepEqual(JSON.parse(parsed.d).evil, INJECTION);
  });
});

describe('renderList', () => {
  it('returns the array of a single expression', () => {
    assert.deepEqual(renderList('{{ step_1.data.items }}', scope()), [{ id: 7 }, { id: '../admin?a=b&c=d#frag' }]);
    assert.deepEqual(renderList('  {{ step_1.data.items | map: "id" }}\n', scope()), [7, '../admin?a=b&c=d#frag']);
  });

  it('refuses anything but one expression whose value is an array', () => {
    rejects(() => renderList('ids: {{ step_1.data.items }}', scope()), /exactly one/);
    rejects(() => renderList('{{ step_1.data.items }}{{ step_1.data.items }}', scope()), /exactly one/);
    rejects(() => renderList('{{ step_1.data.count }}', scope()), /array, got number/);
    rejects(() => renderList('{{ nope }}', scope()), /undefined variable: nope/);
    assert.equal(isSingleExpression('{{ a }}'), true);
    assert.equal(isSingleExpression('{% if a %}{{ a }}{% endif %}'), false);
  });
});

describe('templateReferences', () => {
  it('lists roots, steps.<name> and inputs.<name>, without locals', () => {
    const refs = templateReferences(
      '{{ step_1.response }} {{ steps.step_2.data }} {{ inputs.topic }} {% assign a = step_3.response %}{{ a }}' +
        '{% for x in step_4.data %}{{ x.id }}{{ forloop.index }}{% endfor %}{{ item.id }}{{ step_5.data[inputs.k] }}',
    );
    assert.deepEqual(
      refs.sort(),
      ['inputs.k', 'inputs.topic', 'item', 'step_1', 'step_3', 'step_4', 'step_5', 'steps.step_2'].sort(),
    );
    assert.deepEqual(templateReferences('{{ steps[inputs.which] }}').sort(), ['inputs.which', 'steps']);
  });
});

describe('scopeReads', () => {
  it('names the steps a template reads, however it names them, and what it assigns', () => {
    const reads = (tpl: string) => [...(scopeReads(tpl) ?? ['<all>'])].sort();
    assert.deepEqual(reads('{{ step_1.data.items[0].id }} {{ steps.step-2.response }}'), ['step-2', 'step_1']);
    assert.deepEqual(reads("{{ steps['step_1'] | json }} {{ inputs.topic }}"), ['inputs', 'step_1']);
    // An assign in a branch not taken leaves the name to the scope.
    assert.deepEqual(reads('{% if c %}{% assign step_1 = 1 %}{% endif %}{{ step_1 }}'), ['c', 'step_1']);
    assert.deepEqual(reads('plain text'), []);
  });

  it('is null when the names are only known at render time or steps is read whole', () => {
    for (const tpl of ['{{ [inputs.which].response }}', '{{-[x]-}}', '{{ steps | json }}', '{{ steps.size }}']) {
      assert.equal(scopeReads(tpl), null, tpl);
    }
    assert.equal(scopeReads('{% for s in steps %}{{ s }}{% endfor %}'), null);
  });

  it('renders the same against a scope that holds only those names', () => {
    const full = scope();
    // Each case renders to a known text on both sides: two equal error messages would prove nothing.
    const cases: Array<[string, string]> = [
      ['{{ step_1.data.count }}-{{ steps.step-2.response }}', '2-dashed'],
      ['{% increment step_1 %}', '0'],
      ['{{ inputs.topic }}: {{ steps.step-2.response }}', 'rates: dashed'],
    ];
    for (const [tpl, expected] of cases) {
      const names = scopeReads(tpl)!;
      const outputs = { step_1: full.step_1, 'step-2': full['step-2'] } as Record<string, { response: string }>;
      const only = Object.fromEntries(Object.entries(outputs).filter(([n]) => names.has(n)));
      const small = templateScope({ inputs: full.inputs as Record<string, unknown>, outputs: only });
      assert.equal(renderText(tpl, full), expected, tpl);
      assert.equal(renderText(tpl, small), expected, tpl);
    }
    // The control: the small scope really is smaller, so a step the template does not read is absent.
    assert.deepEqual([...scopeReads('{{ inputs.topic }}: {{ steps.step-2.response }}')!].sort(), ['inputs', 'step-2']);
  });
});

describe('buildPrompt', () => {
  const deps = { step_1: { response: 'GDP up' }, step_2: { response: 'news: calm' } };

  it('prepends dependencies in depends_on order when the prompt names no step', () => {
    const step = { prompt: 'Compare {{ inputs.topic }}', depends_on: ['step_2', 'step_1'] };
    assert.equal(
      buildPrompt(step, 'Compare rates', deps),
      'Context:\nstep_2: news: calm\nstep_1: GDP up\n\nTask: Compare rates',
    );
  });

  it('uses the rendered prompt alone when it references steps explicitly', () => {
    for (const prompt of ['A {{ step_1.response }}', 'A {{ steps.step_2.response }}']) {
      const step = { prompt, depends_on: ['step_1', 'step_2'] };
      assert.equal(referencesSteps(step), true);
      assert.equal(buildPrompt(step, 'A rendered', deps), 'A rendered');
    }
    const viaSystem = { prompt: 'Go', system: 'Data: {{ step_1.response }}', depends_on: ['step_1'] };
    assert.equal(buildPrompt(viaSystem, 'Go', deps), 'Go');
  });

  it('leaves a prompt without dependencies unchanged', () => {
    assert.equal(buildPrompt({ prompt: 'Hello', depends_on: [] }, 'Hello', {}), 'Hello');
  });
});
