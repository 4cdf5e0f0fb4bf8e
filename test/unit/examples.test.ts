import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parseWorkflow } from '../../src/workflow/definition.ts';

const DIR = path.resolve(import.meta.dirname, '../../examples');

for (const file of fs.readdirSync(DIR).filter((f) => f.endsWith('.yaml'))) {
  test(`examples/${file} is a valid workflow`, () => {
    const def = parseWorkflow(fs.readFileSync(path.join(DIR, file), 'utf8'), { filename: file });
    assert.equal(`${def.name}.yaml`, file);
  });
}
