/** Path scopes matched by RE2 (src/runners/claude/path-glob.ts): picomatch's meaning, linear time. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compilePathGlob, UnsupportedGlobError } from '../../src/runners/claude/path-glob.ts';
import { compilePolicy, pathScopeMatches } from '../../src/runners/claude/policy.ts';

function check(glob: string, yes: string[], no: string[]): void {
  const matches = compilePathGlob(glob);
  for (const path of yes) assert.equal(matches(path), true, `${glob} should match ${path}`);
  for (const path of no) assert.equal(matches(path), false, `${glob} should not match ${path}`);
}

describe('path globs', () => {
  test('* and ? stay within a segment; ** spans any number of segments, none included', () => {
    check('src/*.ts', ['src/a.ts', 'src/.hidden.ts'], ['src/a/b.ts', 'src/a.js', 'lib/a.ts']);
    check('a?c', ['abc', 'a.c'], ['ac', 'a/c', 'abbc']);
    check('docs/**', ['docs', 'docs/a.md', 'docs/x/y/z.md', 'docs/.env'], ['doc', 'docsx/a.md', 'src/docs/a']);
    check('**/*.md', ['a.md', 'x/y/a.md', '.github/a.md'], ['a.mdx', 'x/a.txt']);
    check('a/**/b', ['a/b', 'a/x/b', 'a/x/y/b'], ['a/xb', 'b', 'a/b/c']);
    check('**', ['a', 'a/b/c', '.git/config'], []);
    check('a**b', ['ab', 'axxb'], ['a/b', 'ax/yb']);
    check('*', ['a', '.env'], ['', 'a/b']);
  });

  test('dot files match like any other name', () => {
    check('.*', ['.env', '.gitignore'], ['env']);
    check('x/**/*.ts', ['x/.a.ts', 'x/.y/a.ts'], ['x/a.js']);
  });

  test('brackets, braces and extglob groups', () => {
    check('[a-c]x', ['ax', 'cx'], ['dx', '/x']);
    check('[!a]x', ['bx', '.x'], ['ax', '/x']);
    check('[[:digit:]]', ['7'], ['x']);
    check('*.{js,ts}', ['a.js', 'b.ts'], ['c.md', 'a.{js,ts}']);
    check('{a,{b,c}}/x', ['a/x', 'c/x'], ['d/x']);
    check('a{,b}', ['a', 'ab'], ['abb']);
    check('{a}', ['{a}'], ['a']);
    check('src/@(a|b)/**', ['src/a/x', 'src/b'], ['src/c/x', 'src/ab/x']);
    check('+(a|b).txt', ['abab.txt'], ['.txt', 'c.txt']);
    check('?(x)y', ['y', 'xy'], ['xxy']);
    check('*(ab)c', ['c', 'ababc'], ['abac']);
  });

  test('escapes, regex characters and a leading ! that negates', () => {
    check('\\*', ['*'], ['a']);
    check('a+b.c|d$', ['a+b.c|d$'], ['aab.c|d$', 'a+bxc|d$']);
    check('!secret/**', ['docs/a.md', 'secrets'], ['secret', 'secret/key']);
  });

  test('what cannot be matched linearly, or read, is refused by name', () => {
    for (const [glob, message] of [
      ['!(a).txt', /!\(…\) pattern/],
      ['{1..3}.txt', /brace range \{1\.\.3\}/],
      ['a{b,c', /unclosed "\{"/],
      ['@(a|b', /unclosed "\("/],
      ['a\\', /lone backslash/],
      ['[b-a]', /reversed range/],
      ['[[:nope:]]', /unknown class/],
    ] as const) {
      assert.throws(
        () => compilePathGlob(glob),
        (err: unknown) => err instanceof UnsupportedGlobError && message.test(err.message),
        glob,
      );
    }
    // The same refusals are 400s naming the entry when a client sends them.
    assert.throws(
      () => compilePolicy(['Read', 'Edit(!(secret)/**)']),
      (err: unknown) => err instanceof Error && /allowed_tools\[1\] .*!\(…\) pattern/.test(err.message),
    );
    assert.deepEqual(compilePolicy(['Edit(@(a|b)/**)']).rules, [{ tool: 'Edit', scope: '@(a|b)/**' }]);
  });

  // picomatch's RegExp for this scope backtracks through C(n, 12) ways to place the a's: 30 a's take
  // about half a second, 200 would take years, so with it this test would never end. (The API test in
  // test/api/confinement-matching.test.ts shows /health answering while a task with this rule runs.)
  test('a backtracking-prone scope against a long name answers at once; a name it admits still matches', () => {
    const scope = '*a*a*a*a*a*a*a*a*a*a*a*a*b';
    assert.deepEqual(compilePolicy([`Read(${scope})`]).rules, [{ tool: 'Read', scope }]);
    assert.equal(pathScopeMatches(scope, 'a'.repeat(200)), false);
    assert.equal(pathScopeMatches(scope, `${'a'.repeat(200)}b`), true);
    assert.equal(pathScopeMatches(scope, 'aaaaaaaaaaaab'), true);
  });

  test('a glob too large to match linearly is refused; a path too long for its worst case is outside it', () => {
    assert.throws(
      // Past the 500 characters an allowed_tools entry may have: no entry compiles this large.
      () => compilePathGlob('?'.repeat(2500)),
      (err: unknown) => err instanceof UnsupportedGlobError && /too large a glob/.test(err.message),
    );
    const glob = `!${'*a'.repeat(100)}*b`;
    const outside = compilePathGlob(glob);
    assert.equal(outside('x'), true, 'a short path is matched (the negation admits it)');
    assert.equal(outside('x'.repeat(100_000)), false, 'a path past the budget is refused, negated glob or not');
  });
});
