/**
 * What a definition may cost to read and check: YAML depth, size and aliases (definition-yaml.ts),
 * schema patterns matched in linear time, and pool mistakes named. Each refusal beside its control.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError } from '../../src/errors.ts';
import { parseWorkflow, validateInputs } from '../../src/workflow/definition.ts';
import { MAX_YAML_DEPTH, MAX_YAML_ENTRIES, scanYamlShape } from '../../src/workflow/definition-yaml.ts';

const LIMITS = { maxDepth: MAX_YAML_DEPTH, maxEntries: MAX_YAML_ENTRIES };

function refused(text: string, field: string | undefined, message: RegExp): void {
  assert.throws(
    () => parseWorkflow(text, { filename: 'w.yaml' }),
    (err: unknown) => {
      assert.ok(err instanceof AppError && err.kind === 'validation', String(err));
      assert.equal(err.field, field, err.message);
      assert.match(err.message, message);
      return true;
    },
  );
}

const step = (extra: string) => `name: w\nsteps:\n  s:\n    worker: llm\n    prompt: hi\n${extra}`;

/** A mapping nested `levels` deep under `steps`, written with block indentation. */
function blockNest(levels: number): string {
  return `name: w\nsteps:\n${Array.from({ length: levels }, (_, i) => `${'  '.repeat(i + 1)}k${i}:`).join('\n')} 1\n`;
}

describe('YAML nesting, size and aliases', () => {
  it('refuses flow, block and compact-sequence nesting past the limit, naming file and line', () => {
    refused(
      `name: w\nsteps: ${'['.repeat(5000)}${']'.repeat(5000)}\n`,
      undefined,
      /^w\.yaml:2: YAML is nested deeper than 64 levels/,
    );
    refused(
      `name: w\n\nsteps: ${'{a: '.repeat(100)}1${'}'.repeat(100)}\n`,
      undefined,
      /^w\.yaml:3: YAML is nested deeper/,
    );
    refused(blockNest(200), undefined, /^w\.yaml:\d+: YAML is nested deeper/);
    refused(`name: w\nsteps:\n  ${'- '.repeat(300)}x\n`, undefined, /^w\.yaml:3: YAML is nested deeper/);
    refused(`name: w\nsteps:\n  a: [1,\n    [[[[${'['.repeat(80)}\n`, undefined, /^w\.yaml:4: YAML is nested deeper/);
  });

  it('counts what nests, not brackets in text, quotes, comments or block scalars', () => {
    const shape = scanYamlShape(blockNest(40), LIMITS);
    assert.equal(shape.tooDeepAt, undefined, 'forty levels are fine');
    const text = [
      'name: "w"',
      "description: 'it''s {{{{{{{{{{{{{{{{ [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[['",
      '# [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[',
      'steps:',
      '  t:',
      '    worker: transform',
      `    template: a[0] b{1} ${'['.repeat(100)}`,
      '  u:',
      '    worker: transform',
      '    template: |',
      ...Array.from({ length: 100 }, (_, i) => `      ${' '.repeat(i)}{${'['.repeat(10)}`),
      '    description: >',
      '      folded [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[',
    ].join('\n');
    assert.equal(scanYamlShape(text, LIMITS).tooDeepAt, undefined);
    const def = parseWorkflow(text);
    assert.equal(def.steps.t?.worker, 'transform');
  });

  it('refuses a definition of more than 50,000 entries before parsing it; a large ordinary one registers', () => {
    refused(`name: w\nsteps: [${'1,'.repeat(60_000)}1]\n`, undefined, /^w\.yaml:2: YAML has more than 50000 entries/);
    const many = Array.from(
      { length: 500 },
      (_, i) => `  s${i}:\n    worker: transform\n    template: "step ${i}"\n`,
    ).join('');
    assert.equal(Object.keys(parseWorkflow(`name: w\nsteps:\n${many}`).steps).length, 500);
  });

  it('refuses an alias bomb, and still reads a few aliases', () => {
    const lines = ['name: w', 'a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (const [name, prev] of [
      ['b', 'a'],
      ['c', 'b'],
      ['d', 'c'],
      ['e', 'd'],
    ]) {
      lines.push(`${name}: &${name} [${Array(10).fill(`*${prev}`).join(', ')}]`);
    }
    refused(`${lines.join('\n')}\nsteps: *e\n`, undefined, /^w\.yaml: YAML error: .*alias/);
    const reused = `name: w\nsteps:\n  a: &t {worker: transform, template: x}\n  b: *t\n`;
    assert.deepEqual(Object.keys(parseWorkflow(reused).steps), ['a', 'b']);
  });

  it('still refuses a repeated key, naming it and its line; distinct keys pass', () => {
    refused(
      'name: w\nsteps:\n  a: {worker: transform, template: a}\n  a: {worker: transform, template: b}\n',
      undefined,
      /^w\.yaml:4:3: .*unique; "a" is repeated/,
    );
    const keys = Array.from({ length: 50 }, (_, i) => `  s${i}: {worker: transform, template: x}`).join('\n');
    assert.equal(Object.keys(parseWorkflow(`name: w\nsteps:\n${keys}\n`).steps).length, 50);
  });
});

describe('schema patterns in definitions', () => {
  it('an output_schema pattern RE2 cannot run is refused at registration; a linear one registers', () => {
    refused(
      step('    output_schema: {type: object, properties: {v: {type: string, pattern: "^(a)\\\\1$"}}}\n'),
      'steps.s.output_schema',
      /^w\.yaml:6: step "s": output_schema is not a valid JSON Schema \(2020-12\): pattern .* linear time/,
    );
    const def = parseWorkflow(
      step('    output_schema: {type: object, properties: {v: {type: string, pattern: "^(a+)+$"}}}\n'),
    );
    assert.equal(def.steps.s?.worker, 'llm');
  });

  it('two output schemas of one definition may share an $id', () => {
    const schema = '{$id: "https://example.test/s", type: object}';
    const text = `name: w\nsteps:\n  a: {worker: llm, prompt: x, output_schema: ${schema}}\n  b: {worker: llm, prompt: y, output_schema: ${schema}}\n`;
    assert.deepEqual(Object.keys(parseWorkflow(text).steps), ['a', 'b']);
  });

  it("a run's inputs are checked against input patterns in linear time", () => {
    const def = parseWorkflow(
      'name: w\ninputs:\n  code: {type: string, pattern: "^(a+)+$"}\nsteps:\n  s: {worker: transform, template: "{{ inputs.code }}"}\n',
    );
    assert.throws(
      () => validateInputs(def, { code: `${'a'.repeat(5000)}!` }),
      (err: unknown) =>
        err instanceof AppError && err.field === 'inputs.code' && /must match pattern/.test(err.message),
    );
    assert.deepEqual(validateInputs(def, { code: 'aaaa' }), { code: 'aaaa' });
  });
});

describe('pool mistakes', () => {
  it('an unknown pool names the pool, the nearest known one and every known pool', () => {
    refused(
      `name: w\npools:\n  gpu: 1\nsteps:\n  s:\n    worker: llm\n    prompt: hi\n    pool: gpus\n`,
      'steps.s.pool',
      /^w\.yaml:8: step "s": pool names unknown pool "gpus" \(did you mean "gpu"\?\); declare it under pools \(known pools: claude, llm, http, gpu\)/,
    );
    const def = parseWorkflow(
      `name: w\npools:\n  gpu: 1\nsteps:\n  s:\n    worker: llm\n    prompt: hi\n    pool: gpu\n`,
    );
    assert.equal(def.steps.s && 'pool' in def.steps.s ? def.steps.s.pool : undefined, 'gpu');
  });

  it('a pool on a step that runs in the orchestrator says why; other unknown keys list the known ones', () => {
    refused(
      'name: w\nsteps:\n  s:\n    worker: transform\n    template: x\n    pool: claude\n',
      'steps.s.pool',
      /step "s": pool is not a known key: a transform step runs inside the orchestrator and takes no pool/,
    );
    refused(
      'name: w\nsteps:\n  s:\n    worker: approval\n    message: x\n    zzz: 1\n',
      'steps.s.zzz',
      /zzz is not a known key \(known keys: worker, description, depends_on, message, timeout, notify\)/,
    );
  });
});
