import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { stringify } from 'yaml';
import { AppError } from '../../src/errors.ts';
import {
  defaultPoolFor,
  MAX_STEPS,
  parseWorkflow,
  validateInputs,
  validateWorkflow,
  workflowJsonSchema,
} from '../../src/workflow/definition.ts';

// The issue's example definition, as a fresh object per test so each case can break one thing.
function brief(): Record<string, any> {
  return {
    name: 'market-brief',
    inputs: { topic: { type: 'string' }, limit: { type: 'integer', default: 5 } },
    pools: { 'local-llm': 1 },
    steps: {
      step_1: { worker: 'http', url: 'https://example.test/a' },
      step_2: {
        worker: 'http',
        url: 'https://example.test/b',
        method: 'POST',
        headers: { 'X-Topic': '{{ inputs.topic }}' },
        body: { q: '{{ inputs.topic }}', n: '{{ inputs.limit }}' },
        expect_status: [200],
      },
      step_3: {
        worker: 'claude',
        depends_on: ['step_1', 'step_2'],
        prompt: 'Analyze the relationship between {{ step_1.response }} and {{ step_2.response }}',
        allowed_tools: ['Read', 'Grep'],
        timeout: 120000,
        retry: { max_attempts: 3, backoff: { initial: 1000, factor: 2, max: 60000 } },
      },
      step_4: {
        worker: 'llm',
        pool: 'local-llm',
        depends_on: ['step_3'],
        prompt: 'Extract the issues',
        output_schema: { type: 'object', properties: { issues: { type: 'array' } }, required: ['issues'] },
        provider: 'openai-compatible',
        base_url: 'http://127.0.0.1:8080/v1',
        temperature: 0,
      },
      step_5: { worker: 'transform', depends_on: ['step_4'], template: '{{ step_4.data.issues | size }} issues' },
      step_6: {
        worker: 'http',
        depends_on: ['step_1'],
        for_each: '{{ step_1.data.items }}',
        parallelism: 4,
        url: 'https://x.test/{{ item.id }}?i={{ item_index }}',
      },
      step_7: { worker: 'approval', depends_on: ['step_5'], message: 'Publish? {{ step_5.response }}' },
    },
  };
}

/** Asserts validation fails on exactly `field`, with a message matching every pattern. */
function invalid(def: unknown, field: string, ...patterns: RegExp[]) {
  assert.throws(
    () => validateWorkflow(def, { filename: 'brief.yaml' }),
    (err: unknown) => {
      assert.ok(err instanceof AppError, `expected AppError, got ${String(err)}`);
      assert.equal(err.kind, 'validation');
      assert.equal(err.field, field, err.message);
      assert.match(err.message, /^brief\.yaml: /);
      for (const p of patterns) assert.match(err.message, p);
      return true;
    },
  );
}

/** Asserts a validation AppError whose message (not the "AppError: " string form) matches. */
function throwsMessage(fn: () => unknown, pattern: RegExp) {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof AppError && err.kind === 'validation', String(err));
    assert.match(err.message, pattern);
    return true;
  });
}

function edit(change: (def: Record<string, any>) => void): Record<string, any> {
  const def = brief();
  change(def);
  return def;
}

describe('parseWorkflow: valid definitions', () => {
  it('accepts the example from YAML and fills in defaults', () => {
    const def = parseWorkflow(stringify(brief()), { filename: 'brief.yaml' });
    assert.equal(def.name, 'market-brief');
    assert.deepEqual(Object.keys(def.steps), ['step_1', 'step_2', 'step_3', 'step_4', 'step_5', 'step_6', 'step_7']);
    assert.deepEqual(def.steps.step_1?.depends_on, []);
    const step3 = def.steps.step_3;
    assert.equal(step3?.worker, 'claude');
    if (step3?.worker === 'claude') assert.deepEqual(step3.allowed_tools, ['Read', 'Grep']);
  });

  it('accepts JSON text', () => {
    const def = parseWorkflow(JSON.stringify(brief()));
    assert.equal(def.steps.step_6?.worker, 'http');
  });

  it('allows transitive upstream references and steps.<name>', () => {
    validateWorkflow(edit((d) => (d.steps.step_5.template = '{{ step_1.response }} {{ steps.step_3.response }}')));
  });

  it('accepts DAGs of thousands of steps, up to MAX_STEPS', () => {
    const chain = (n: number) => ({
      name: 'long-chain',
      steps: Object.fromEntries(
        Array.from({ length: n }, (_, i) => [
          `s${i}`,
          i === 0
            ? { worker: 'transform', template: 'start' }
            : { worker: 'transform', template: `{{ s0.response }}`, depends_on: [`s${i - 1}`] },
        ]),
      ),
    });
    assert.equal(Object.keys(validateWorkflow(chain(MAX_STEPS)).steps).length, MAX_STEPS);
    invalid(chain(MAX_STEPS + 1), 'steps', /at most 5000 steps/);
  });

  it('names default pools for claude, llm and http; none for transform and approval', () => {
    assert.equal(defaultPoolFor('claude'), 'claude');
    assert.equal(defaultPoolFor('llm'), 'llm');
    assert.equal(defaultPoolFor('http'), 'http');
    assert.equal(defaultPoolFor('transform'), undefined);
    assert.equal(defaultPoolFor('approval'), undefined);
    validateWorkflow(edit((d) => (d.steps.step_3.pool = 'claude')));
  });
});

describe('validateWorkflow: shape', () => {
  it('refuses a misspelled key and suggests the right one', () => {
    invalid(
      edit((d) => (d.steps.step_3.timeot = 1000)),
      'steps.step_3.timeot',
      /step "step_3": timeot is not a known key \(did you mean "timeout"\?\)/,
    );
    invalid(
      edit((d) => (d.steps.step_3.retry.backoff.facter = 2)),
      'steps.step_3.retry.backoff.facter',
      /did you mean "factor"/,
    );
    invalid(
      edit((d) => (d.pool = {})),
      'pool',
      /pool is not a known key \(did you mean "pools"\?\)/,
    );
  });

  it('refuses keys that belong to another worker', () => {
    invalid(
      edit((d) => (d.steps.step_5.pool = 'local-llm')),
      'steps.step_5.pool',
      /not a known key/,
    );
    invalid(
      edit((d) => (d.steps.step_1.prompt = 'x')),
      'steps.step_1.prompt',
      /not a known key/,
    );
  });

  it('refuses unknown and missing workers', () => {
    invalid(
      edit((d) => (d.steps.step_3.worker = 'claud')),
      'steps.step_3.worker',
      /"claud" is not a known worker; expected one of claude, llm, http, transform, approval/,
    );
    invalid(
      edit((d) => delete d.steps.step_3.worker),
      'steps.step_3.worker',
      /step "step_3": worker is required/,
    );
  });

  it('requires the fields a worker needs', () => {
    invalid(
      edit((d) => delete d.steps.step_4.prompt),
      'steps.step_4.prompt',
      /step "step_4": prompt is required/,
    );
    invalid(
      edit((d) => delete d.steps.step_1.url),
      'steps.step_1.url',
      /url is required/,
    );
    invalid(
      edit((d) => delete d.name),
      'name',
      /name is required/,
    );
  });

  it('checks timeout is an integer between 1000 and 86400000 ms', () => {
    for (const bad of [999, 86_400_001, 1500.5, '120000']) {
      invalid(
        edit((d) => (d.steps.step_3.timeout = bad)),
        'steps.step_3.timeout',
        /step "step_3": timeout must be an integer between 1000 and 86400000 \(ms\)/,
      );
    }
    for (const good of [1000, 86_400_000]) validateWorkflow(edit((d) => (d.steps.step_3.timeout = good)));
  });

  it('checks retry.max_attempts is between 1 and 20', () => {
    for (const bad of [0, 21]) {
      invalid(
        edit((d) => (d.steps.step_3.retry.max_attempts = bad)),
        'steps.step_3.retry.max_attempts',
        /retry\.max_attempts must be an integer between 1 and 20/,
      );
    }
    validateWorkflow(edit((d) => (d.steps.step_3.retry.max_attempts = 20)));
  });

  it('checks enums, lists and pool capacities', () => {
    invalid(
      edit((d) => (d.steps.step_2.method = 'post')),
      'steps.step_2.method',
      /must be one of GET, POST/,
    );
    invalid(
      edit((d) => (d.steps.step_2.expect_status = [200, 700])),
      'steps.step_2.expect_status[1]',
      /100 and 599/,
    );
    invalid(
      edit((d) => (d.pools['local-llm'] = 0)),
      'pools.local-llm',
      /must be an integer between 1/,
    );
    invalid(
      edit((d) => (d.steps.step_3.depends_on = 'step_1')),
      'steps.step_3.depends_on',
      /must be array/,
    );
  });

  it('checks step names', () => {
    invalid(
      edit((d) => (d.steps['7up'] = { worker: 'transform', template: 'x' })),
      'steps.7up',
      /step "7up" is not a valid step name/,
    );
    invalid(
      edit((d) => (d.steps['a.b'] = { worker: 'transform', template: 'x' })),
      'steps.a.b',
      /not a valid step name/,
    );
    for (const reserved of ['steps', 'inputs', 'item', 'true']) {
      invalid(
        edit((d) => (d.steps[reserved] = { worker: 'transform', template: 'x' })),
        `steps.${reserved}`,
        /reserved name/,
      );
    }
    invalid(
      edit((d) => (d.steps = {})),
      'steps',
      /at least one step/,
    );
  });

  it('refuses a definition that is not a mapping', () => {
    throwsMessage(() => parseWorkflow('- a\n- b\n'), /must be a mapping/);
    throwsMessage(() => parseWorkflow(''), /must be a mapping/);
  });
});

describe('validateWorkflow: what http and llm steps would refuse at run time', () => {
  it('refuses a literal URL scheme other than http(s), bad or reserved header names, a bad base_url', () => {
    invalid(
      edit((d) => (d.steps.step_1.url = 'ftp://files.test/{{ inputs.topic }}')),
      'steps.step_1.url',
      /step "step_1": url must be an http:\/\/ or https:\/\/ URL, not ftp:/,
    );
    invalid(
      edit((d) => (d.steps.step_1.headers = { 'bad name': 'v' })),
      'steps.step_1.headers.bad name',
      /is not a valid header name/,
    );
    invalid(
      edit((d) => (d.steps.step_1.headers = { Host: 'internal.test' })),
      'steps.step_1.headers.Host',
      /is set by Switchyard/,
    );
    invalid(
      edit((d) => (d.steps.step_4.base_url = 'localhost:8080')),
      'steps.step_4.base_url',
      /must be an absolute http:\/\/ or https:\/\/ URL/,
    );
    // A scheme that comes from a template is checked when the step runs.
    validateWorkflow(edit((d) => (d.steps.step_1.url = '{{ inputs.topic }}://x.test/')));
  });
});

describe('validateWorkflow: graph and references', () => {
  it('refuses unknown, self and repeated dependencies', () => {
    invalid(
      edit((d) => (d.steps.step_3.depends_on = ['step_1', 'step_9'])),
      'steps.step_3.depends_on[1]',
      /step "step_3": depends_on\[1\] names unknown step "step_9" \(did you mean "step_1"\?\)/,
    );
    invalid(
      edit((d) => d.steps.step_3.depends_on.push('step_3')),
      'steps.step_3.depends_on[2]',
      /itself/,
    );
    invalid(
      edit((d) => d.steps.step_3.depends_on.push('step_1')),
      'steps.step_3.depends_on[2]',
      /repeats "step_1"/,
    );
  });

  it('names the cycle', () => {
    invalid(
      edit((d) => {
        d.steps.step_a = { worker: 'transform', depends_on: ['step_b'], template: 'a' };
        d.steps.step_b = { worker: 'transform', depends_on: ['step_a'], template: 'b' };
      }),
      'steps.step_a.depends_on[0]',
      /forms a cycle: step_a -> step_b -> step_a/,
    );
    invalid(
      edit((d) => (d.steps.step_1.depends_on = ['step_5'])),
      'steps.step_1.depends_on[0]',
      /cycle: step_1 -> step_5 -> step_4 -> step_3 -> step_1/,
    );
  });

  it('refuses template references to steps that are not upstream', () => {
    invalid(
      edit((d) => (d.steps.step_5.template = '{{ step_6.response }}')),
      'steps.step_5.template',
      /step "step_5": template references step "step_6", which is not upstream of "step_5"; add it to depends_on/,
    );
    invalid(
      edit((d) => (d.steps.step_3.prompt = '{{ steps.step_7.response }}')),
      'steps.step_3.prompt',
      /references step "step_7", which is not upstream/,
    );
    invalid(
      edit((d) => (d.steps.step_1.url = 'https://a.test/{{ step_1.response }}')),
      'steps.step_1.url',
      /references step "step_1", which is not upstream/,
    );
    invalid(
      edit((d) => (d.steps.step_2.body.nested = ['{{ step_3.response }}'])),
      'steps.step_2.body.nested[0]',
      /references step "step_3"/,
    );
  });

  it('refuses unknown variables, unknown inputs and dynamic step lookups', () => {
    invalid(
      edit((d) => (d.steps.step_5.template = '{{ step_44.data }}')),
      'steps.step_5.template',
      /references unknown variable "step_44" \(did you mean "step_4"\?\)/,
    );
    invalid(
      edit((d) => (d.steps.step_2.headers['X-Topic'] = '{{ inputs.topc }}')),
      'steps.step_2.headers.X-Topic',
      /references inputs\.topc, which is not declared under inputs/,
    );
    invalid(
      edit((d) => (d.steps.step_5.template = '{{ steps[inputs.topic].response }}')),
      'steps.step_5.template',
      /must name steps literally/,
    );
  });

  it('allows item only in steps with for_each, and not in for_each itself', () => {
    invalid(
      edit((d) => (d.steps.step_5.template = '{{ item }}')),
      'steps.step_5.template',
      /references item, which exists only in steps with for_each/,
    );
    invalid(
      edit((d) => (d.steps.step_6.for_each = '{{ item }}')),
      'steps.step_6.for_each',
      /references item/,
    );
  });

  it('requires for_each to be exactly one expression, and parallelism to come with it', () => {
    invalid(
      edit((d) => (d.steps.step_6.for_each = 'ids: {{ step_1.data.items }}')),
      'steps.step_6.for_each',
      /exactly one \{\{ expression \}\}/,
    );
    invalid(
      edit((d) => (d.steps.step_1.parallelism = 2)),
      'steps.step_1.parallelism',
      /only allowed together with for_each/,
    );
  });

  it('reports template syntax errors and unknown filters', () => {
    invalid(
      edit((d) => (d.steps.step_5.template = '{{ step_4.data | nope }}')),
      'steps.step_5.template',
      /template syntax error: undefined filter: nope/,
    );
    invalid(
      edit((d) => (d.steps.step_7.message = '{% if step_5.response %}')),
      'steps.step_7.message',
      /template syntax error/,
    );
  });

  it('refuses unknown pools', () => {
    invalid(
      edit((d) => (d.steps.step_4.pool = 'gpu')),
      'steps.step_4.pool',
      /names unknown pool "gpu"; declare it under pools/,
    );
  });

  it('compiles output_schema and input schemas with ajv and reports its message', () => {
    invalid(
      edit((d) => (d.steps.step_4.output_schema = { type: 'objekt' })),
      'steps.step_4.output_schema',
      /output_schema is not a valid JSON Schema \(2020-12\): schema is invalid: data\/type must be/,
    );
    invalid(
      edit((d) => (d.steps.step_4.output_schema = { type: 'object', propertees: {} })),
      'steps.step_4.output_schema',
      /unknown keyword: "propertees"/,
    );
    invalid(
      edit((d) => (d.inputs.topic = { type: 'strng' })),
      'inputs.topic',
      /not a valid JSON Schema/,
    );
  });
});

describe('parseWorkflow: YAML and locations', () => {
  it('reports YAML syntax errors with file, line and column', () => {
    const text = 'name: x\nsteps:\n  a:\n    worker: transform\n   template: [\n';
    assert.throws(
      () => parseWorkflow(text, { filename: 'flow.yaml' }),
      (err: unknown) =>
        err instanceof AppError &&
        err.kind === 'validation' &&
        /^flow\.yaml:5:\d+: YAML syntax error/.test(err.message),
    );
    throwsMessage(() => parseWorkflow(text), /^line 5, column \d+: YAML syntax error/);
  });

  it('refuses duplicate keys', () => {
    const text = 'name: x\nsteps:\n  a: {worker: transform, template: a}\n  a: {worker: transform, template: b}\n';
    throwsMessage(() => parseWorkflow(text, { filename: 'flow.yaml' }), /^flow\.yaml:4:\d+: .*unique/);
  });

  it('puts the line of the offending key in rule errors', () => {
    const text = [
      'name: x',
      'steps:',
      '  a:',
      '    worker: transform',
      '    template: "{{ b.response }}"',
      '  b:',
      '    worker: http',
      '    url: https://x.test',
      '    timeout: 10',
    ].join('\n');
    throwsMessage(() => parseWorkflow(text, { filename: 'flow.yaml' }), /^flow\.yaml:9: step "b": timeout must be/);
    const fixed = text.replace('timeout: 10', 'timeout: 1000');
    throwsMessage(
      () => parseWorkflow(fixed, { filename: 'flow.yaml' }),
      /^flow\.yaml:5: step "a": template references step "b", which is not upstream/,
    );
    throwsMessage(() => parseWorkflow(fixed), /^line 5: step "a"/);
  });
});

describe('validateInputs', () => {
  const def = validateWorkflow(brief());

  it('applies defaults and leaves the caller object alone', () => {
    const given = { topic: 'rates' };
    assert.deepEqual(validateInputs(def, given), { topic: 'rates', limit: 5 });
    assert.deepEqual(given, { topic: 'rates' });
  });

  it('names the input at fault', () => {
    const cases: Array<[unknown, string, RegExp]> = [
      [{}, 'inputs.topic', /inputs\.topic is required/],
      [{ topic: 3 }, 'inputs.topic', /inputs\.topic must be string/],
      [{ topic: 'x', limit: 'many' }, 'inputs.limit', /inputs\.limit must be integer/],
      [{ topic: 'x', extra: 1 }, 'inputs.extra', /inputs\.extra is not a declared input/],
    ];
    for (const [inputs, field, message] of cases) {
      assert.throws(
        () => validateInputs(def, inputs),
        (err: unknown) =>
          err instanceof AppError && err.kind === 'validation' && err.field === field && message.test(err.message),
      );
    }
  });
});

describe('workflowJsonSchema', () => {
  it('is a JSON Schema 2020-12 that accepts the example and refuses misspelled keys', () => {
    const schema = workflowJsonSchema();
    assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
    const validate = new Ajv2020({ strict: false }).compile(schema);
    assert.equal(validate(brief()), true, JSON.stringify(validate.errors));
    assert.equal(validate(edit((d) => (d.steps.step_3.timeot = 1000))), false);
    assert.equal(validate(edit((d) => (d.steps.step_3.timeout = 5))), false);
  });
});

it('claude steps: allowed_tools rules are compiled like a task’s, errors name the entry', () => {
  const yaml = (tools: string) =>
    `name: w\nsteps:\n  s:\n    worker: claude\n    prompt: hi\n    allowed_tools: ${tools}\n`;
  assert.throws(
    () => parseWorkflow(yaml('[Read, Bsh]'), { filename: 'w.yaml' }),
    (err: unknown) =>
      err instanceof AppError &&
      err.field === 'steps.s.allowed_tools[1]' &&
      /^w\.yaml:\d+: step "s": allowed_tools\[1\] "Bsh" is not a known tool/.test(err.message),
  );
  assert.throws(
    () => parseWorkflow(yaml('["Edit(/etc/**)"]')),
    (err: unknown) => err instanceof AppError && err.field === 'steps.s.allowed_tools[0]',
  );
  assert.deepEqual(parseWorkflow(yaml('[Read, "Edit(docs/**)", "Bash(git diff *)"]')).steps.s!.worker, 'claude');
});
