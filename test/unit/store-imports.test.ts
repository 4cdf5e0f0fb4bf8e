/**
 * The store sits below the engine: it keeps what the workflow engine, the task scheduler, the API and
 * the runners write, and imports none of them. Types both sides share live in src/domain/. Any import
 * (type-only included) from a file under src/store/ into those directories fails here.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

const SRC = path.join(import.meta.dirname, '../../src');
const STORE = path.join(SRC, 'store');
const ABOVE = ['workflow', 'tasks', 'api', 'runners', 'cli'].map((dir) => path.join(SRC, dir));
/** `import … from 'x'`, `export … from 'x'`, `import 'x'`, `import('x')`. */
const SPECIFIER = /\bfrom\s*['"]([^'"]+)['"]|\bimport\s*\(?\s*['"]([^'"]+)['"]/g;

test('nothing under src/store/ imports the engine, the task scheduler, the API, the runners or the CLI', () => {
  const offending: string[] = [];
  let relative = 0;
  for (const file of fs.readdirSync(STORE, { recursive: true, encoding: 'utf8' })) {
    if (!file.endsWith('.ts')) continue;
    const text = fs.readFileSync(path.join(STORE, file), 'utf8');
    for (const m of text.matchAll(SPECIFIER)) {
      const specifier = m[1] ?? m[2] ?? '';
      if (!specifier.startsWith('.')) continue;
      relative++;
      const target = path.resolve(STORE, path.dirname(file), specifier);
      if (ABOVE.some((dir) => target.startsWith(`${dir}${path.sep}`))) offending.push(`${file}: ${specifier}`);
    }
  }
  assert.deepEqual(offending, [], 'src/store/ imports from above it');
  assert.ok(relative > 0, 'the check saw the store’s own imports');
});
