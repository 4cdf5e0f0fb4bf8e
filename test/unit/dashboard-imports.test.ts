/**
 * The dashboard takes its API types from the contract (src/api/contract/), and only its types: an
 * `import`/`export` of server code that is not type-only would pull zod and the route definitions
 * into the browser bundle. Every module specifier in dashboard/src that leaves the dashboard must
 * appear in an `import type` / `export type` statement.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

const ROOT = path.join(import.meta.dirname, '../../dashboard/src');
/** `import … from 'x'`, `export … from 'x'`, `import 'x'`: the statement up to its specifier. */
const STATEMENT = /\b(import|export)\b([^;'"]*?)\bfrom\s*['"]([^'"]+)['"]|\bimport\s*['"]([^'"]+)['"]/g;

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => /\.tsx?$/.test(f));
}

test('dashboard code reaches outside the dashboard only with type-only imports', () => {
  const offending: string[] = [];
  let typeOnly = 0;
  for (const file of sources(ROOT)) {
    const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
    for (const m of text.matchAll(STATEMENT)) {
      const specifier = m[3] ?? m[4] ?? '';
      if (!specifier.startsWith('.')) continue; // packages (react …) are the bundle's own
      const target = path.resolve(ROOT, path.dirname(file), specifier);
      if (target.startsWith(`${ROOT}${path.sep}`)) continue;
      if (m[4] === undefined && /^\s*type\b/.test(m[2] ?? '')) typeOnly++;
      else offending.push(`${file}: ${m[0].replace(/\s+/g, ' ').slice(0, 120)}`);
    }
  }
  assert.deepEqual(offending, [], 'value imports of server code in the dashboard');
  assert.ok(typeOnly > 0, 'the dashboard takes its API types from the contract');
});
