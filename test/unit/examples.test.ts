import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parseWorkflow } from '../../src/workflow/definition.ts';

const DIR = path.resolve(import.meta.dirname, '../../examples');

/** Each example is a directory with its README and one workflow named after the directory. */
for (const dir of fs.readdirSync(DIR, { withFileTypes: true }).filter((d) => d.isDirectory())) {
  test(`examples/${dir.name}/ holds a README and a valid workflow of that name`, () => {
    const files = fs.readdirSync(path.join(DIR, dir.name));
    assert.ok(files.includes('README.md'), 'README.md');
    const file = `${dir.name}.yaml`;
    assert.ok(files.includes(file), file);
    const def = parseWorkflow(fs.readFileSync(path.join(DIR, dir.name, file), 'utf8'), { filename: file });
    assert.equal(def.name, dir.name);
  });
}
