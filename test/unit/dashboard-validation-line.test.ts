/**
 * The dashboard marks the line a workflow validation error names by reading the server's message: this
 * ties that reading to the messages the server really writes (schema, semantic, YAML syntax and
 * duplicate-key errors, with and without a filename), so a change of format fails here, not silently.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validationLine } from '../../dashboard/src/validation-line.ts';
import { parseWorkflow } from '../../src/workflow/definition.ts';

function messageOf(text: string, filename?: string): string {
  try {
    parseWorkflow(text, filename ? { filename } : {});
  } catch (err) {
    return (err as Error).message;
  }
  assert.fail('expected a validation error');
}

const cases: Array<{ what: string; text: string; line: number }> = [
  {
    what: 'an unknown worker',
    text: 'name: w\nsteps:\n  a:\n    worker: transform\n    template: x\n  b:\n    worker: nope\n',
    line: 7,
  },
  { what: 'a repeated key', text: 'name: w\nsteps:\n  a:\n    worker: transform\n    worker: transform\n', line: 5 },
  // The parser notices the unclosed list where the next key starts.
  { what: 'a YAML syntax error', text: 'name: w\nsteps:\n  a: [unclosed\n  b: {worker: transform}\n', line: 4 },
  {
    what: 'a dependency on a missing step',
    text: 'name: w\nsteps:\n  a:\n    worker: transform\n    template: x\n    depends_on: [ghost]\n',
    line: 6,
  },
];

for (const c of cases) {
  test(`the line of ${c.what} is read from the server's message, with or without a filename`, () => {
    for (const filename of ['flows/my:odd name.yaml', undefined]) {
      const message = messageOf(c.text, filename);
      const line = validationLine(message, filename);
      assert.ok(line !== undefined, `no line read from: ${message}`);
      assert.equal(line, c.line, message);
    }
  });
}

test('a message without a line, or from another file, marks nothing', () => {
  assert.equal(validationLine('workflow.yaml: the workflow must be a mapping', 'workflow.yaml'), undefined);
  assert.equal(validationLine('other.yaml:3: step "a" broke', 'workflow.yaml'), undefined);
  assert.equal(validationLine('HTTP 500', undefined), undefined);
});
