import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AppError } from '../../src/errors.ts';
import { compilePolicy, formatRule } from '../../src/runners/claude/policy.ts';

/** Asserts compilePolicy throws a validation error for exactly this field, with this message. */
function assertRejected(run: () => unknown, field: string, message: string | RegExp): void {
  assert.throws(run, (err: unknown) => {
    assert.ok(err instanceof AppError, `expected AppError, got ${String(err)}`);
    assert.equal(err.kind, 'validation');
    assert.equal(err.field, field);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

const formatted = (allowed: unknown, cap?: unknown) =>
  compilePolicy(allowed, cap === undefined ? {} : { cap: compilePolicy(cap, { field: 'CAP' }) }).rules.map(formatRule);

describe('compilePolicy', () => {
  test('compiles names and scopes, and lists each tool once for the SDK', () => {
    const policy = compilePolicy([
      'Read',
      'Glob',
      'Grep',
      'Edit(docs/**)',
      'Write(out/**)',
      'Bash(git diff *)',
      'Bash(npm test)',
      'WebFetch(domain:example.com)',
      'WebSearch',
      'NotebookEdit(nb/**)',
      'TodoWrite',
    ]);
    assert.deepEqual(policy.tools, [
      'Read',
      'Glob',
      'Grep',
      'Edit',
      'Write',
      'Bash',
      'WebFetch',
      'WebSearch',
      'NotebookEdit',
      'TodoWrite',
    ]);
    assert.deepEqual(policy.rules.slice(3, 7), [
      { tool: 'Edit', scope: 'docs/**' },
      { tool: 'Write', scope: 'out/**' },
      { tool: 'Bash', scope: 'git diff *' },
      { tool: 'Bash', scope: 'npm test' },
    ]);
    assert.deepEqual(policy.rules[0], { tool: 'Read' });
  });

  test('omitted means no tools at all; an empty list too', () => {
    assert.deepEqual(compilePolicy(undefined), { rules: [], tools: [] });
    assert.deepEqual(compilePolicy([]), { rules: [], tools: [] });
  });

  test('duplicates are dropped and scopes normalised', () => {
    assert.deepEqual(formatted(['Read', 'Read', ' Edit(./docs/**) ', 'Edit(docs/**)']), ['Read', 'Edit(docs/**)']);
    assert.deepEqual(formatted(['Bash( git   diff  * )', 'Bash(npm run test:*)', 'Bash(git log*)']), [
      'Bash(git diff *)',
      'Bash(npm run test *)',
      'Bash(git log*)',
    ]);
    assert.deepEqual(formatted(['WebFetch(domain:Example.COM)']), ['WebFetch(domain:example.com)']);
  });

  test('formatRule round-trips', () => {
    assert.equal(formatRule({ tool: 'Edit', scope: 'docs/**' }), 'Edit(docs/**)');
    assert.equal(formatRule({ tool: 'Read' }), 'Read');
  });

  test('rejects what is not an array of strings, naming the field', () => {
    assertRejected(() => compilePolicy('Read'), 'allowed_tools', /^allowed_tools must be an array/);
    assertRejected(() => compilePolicy(null), 'allowed_tools', /^allowed_tools must be an array/);
    assertRejected(() => compilePolicy(['Read', 3]), 'allowed_tools[1]', /^allowed_tools\[1\] must be a string/);
    assertRejected(() => compilePolicy(7, { field: 'steps.a.tools' }), 'steps.a.tools', /^steps\.a\.tools must be/);
    assertRejected(
      () => compilePolicy(['Bsh'], { field: 'steps.a.tools' }),
      'steps.a.tools[0]',
      /^steps\.a\.tools\[0\] "Bsh"/,
    );
  });

  test('rejects too many or too long entries', () => {
    assert.equal(compilePolicy(Array(100).fill('Read')).rules.length, 1);
    assertRejected(
      () => compilePolicy(Array(101).fill('Read')),
      'allowed_tools',
      'allowed_tools may list at most 100 tools',
    );
    assert.equal(compilePolicy([`Read(${'a'.repeat(494)})`]).rules.length, 1);
    assertRejected(
      () => compilePolicy([`Read(${'a'.repeat(495)})`]),
      'allowed_tools[0]',
      'allowed_tools[0] is longer than 500 characters',
    );
  });

  test('rejects an unknown tool name, listing the known ones', () => {
    assertRejected(
      () => compilePolicy(['Read', 'Glob', 'Bsh']),
      'allowed_tools[2]',
      'allowed_tools[2] "Bsh" is not a known tool (known: Read, Glob, Grep, Edit, Write, NotebookEdit, Bash, WebFetch, WebSearch, TodoWrite)',
    );
    assertRejected(() => compilePolicy(['read']), 'allowed_tools[0]', /"read" is not a known tool/);
    assertRejected(() => compilePolicy(['MultiEdit']), 'allowed_tools[0]', /"MultiEdit" is not a known tool/);
    assertRejected(() => compilePolicy(['Agent']), 'allowed_tools[0]', /"Agent" is not a known tool/);
    assertRejected(() => compilePolicy(['toString']), 'allowed_tools[0]', /"toString" is not a known tool/);
    assertRejected(() => compilePolicy(['mcp__x__y']), 'allowed_tools[0]', /is not a known tool/);
  });

  test('rejects malformed rules, naming the entry and the rule broken', () => {
    const cases: [string, RegExp][] = [
      ['Edit(docs/**', /"Edit\(docs\/\*\*" is malformed/],
      ['Edit docs', /is malformed/],
      ['', /is malformed/],
      ['Edit()', /has an empty scope/],
      ['Edit(  )', /has an empty scope/],
      ['Edit(a)(b)', /has unbalanced parentheses/],
      ['Edit(a))', /has unbalanced parentheses/],
      ['WebSearch(x)', /"WebSearch\(x\)" takes no scope; write "WebSearch"/],
      ['TodoWrite(x)', /takes no scope/],
      ['Edit(/etc/**)', /relative to the workspace/],
      ['Read(~/.ssh/*)', /relative to the workspace/],
      ['Read(C:/x)', /relative to the workspace/],
      ['Edit(../x/**)', /must not contain "\.\." segments/],
      ['Edit(docs/../../x)', /must not contain "\.\." segments/],
      ['Edit(docs/{a,..}/x)', /must not contain "\.\." segments/],
      ['Edit(./)', /relative to the workspace/],
      ['WebFetch(example.com)', /must be "domain:" and a host name/],
      ['WebFetch(domain:)', /must be "domain:" and a host name/],
      ['WebFetch(domain:*.example.com)', /must be "domain:" and a host name/],
      ['WebFetch(domain:exa mple.com)', /must be "domain:" and a host name/],
      ['WebFetch(domain:http://example.com)', /must be "domain:" and a host name/],
      ['Bash(git diff; rm -rf /)', /"Bash\(git diff; rm -rf \/\)" scope must be plain words/],
      ['Bash(echo $(id))', /scope must be plain words/],
      ['Bash(git * diff)', /scope must be plain words/],
      ['Bash(git "diff")', /scope must be plain words/],
      ['Bash(**)', /scope must be plain words/],
    ];
    for (const [entry, message] of cases) {
      assertRejected(() => compilePolicy(['Read', entry]), 'allowed_tools[1]', message);
    }
  });

  test('positive controls for the malformed cases', () => {
    assert.deepEqual(
      formatted(['Edit(docs/a..b.md)', 'Read(src/@(a|b)/**)', 'Bash(*)', 'WebFetch(domain:a-b.example.co.uk)']),
      ['Edit(docs/a..b.md)', 'Read(src/@(a|b)/**)', 'Bash(*)', 'WebFetch(domain:a-b.example.co.uk)'],
    );
  });
});

describe('compilePolicy with an operator cap', () => {
  test('an unscoped cap rule admits every rule of its tool and nothing of other tools', () => {
    assert.deepEqual(formatted(['Read', 'Read(src/**)'], ['Read', 'Grep']), ['Read', 'Read(src/**)']);
    assertRejected(
      () => formatted(['Read', 'Bash'], ['Read', 'Grep']),
      'allowed_tools[1]',
      'allowed_tools[1] "Bash" exceeds what the operator allows',
    );
  });

  test('a scoped cap admits equal or narrower path scopes only', () => {
    const cap = ['Edit(docs/**)', 'Read(src/*.ts)'];
    assert.deepEqual(formatted(['Edit(docs/**)', 'Edit(docs/api/**)', 'Edit(docs/a.md)', 'Edit(docs/*.md)'], cap), [
      'Edit(docs/**)',
      'Edit(docs/api/**)',
      'Edit(docs/a.md)',
      'Edit(docs/*.md)',
    ]);
    assert.deepEqual(formatted(['Read(src/*.ts)', 'Read(src/a.ts)'], cap), ['Read(src/*.ts)', 'Read(src/a.ts)']);
    const refused = ['Edit', 'Edit(**)', 'Edit(docs*/**)', 'Edit(src/**)', 'Edit(docsx/a.md)'];
    for (const entry of refused) {
      assertRejected(
        () => formatted([entry], cap),
        'allowed_tools[0]',
        `allowed_tools[0] ${JSON.stringify(entry)} exceeds what the operator allows`,
      );
    }
    // Narrower in fact, but not provably so by our simple rule: refused, conservatively.
    assertRejected(() => formatted(['Read(src/a*.ts)'], cap), 'allowed_tools[0]', /exceeds what the operator allows/);
    assertRejected(() => formatted(['Read(src/**)'], cap), 'allowed_tools[0]', /exceeds what the operator allows/);
    assert.deepEqual(formatted(['Read(x/**)'], ['Read(**)']), ['Read(x/**)']);
  });

  test('a scoped Bash cap admits equal or narrower command patterns', () => {
    const cap = ['Bash(git *)', 'Bash(npm test)', 'Bash(ls*)'];
    assert.deepEqual(
      formatted(['Bash(git diff *)', 'Bash(git status)', 'Bash(git log*)', 'Bash(npm test)', 'Bash(lsof -i)'], cap),
      ['Bash(git diff *)', 'Bash(git status)', 'Bash(git log*)', 'Bash(npm test)', 'Bash(lsof -i)'],
    );
    for (const entry of [
      'Bash',
      'Bash(gitk *)',
      'Bash(git*)',
      'Bash(npm test *)',
      'Bash(npm *)',
      'Bash(npm)',
      'Bash(*)',
    ]) {
      assertRejected(() => formatted([entry], cap), 'allowed_tools[0]', /exceeds what the operator allows/);
    }
  });

  test('a Bash cap does not admit a rule that names options or subcommands the gate refuses under the cap', () => {
    const cap = ['Bash(git *)', 'Bash(git diff *)', 'Bash(find *)', 'Bash(rg *)'];
    for (const entry of [
      'Bash(git diff --no-index *)',
      'Bash(git diff --output *)',
      'Bash(git -C /etc diff *)',
      'Bash(git -c core.pager=sh log)',
      'Bash(git config *)',
      'Bash(git grep -O *)',
      'Bash(find . -exec *)',
      'Bash(rg --pre *)',
    ]) {
      assertRejected(() => formatted([entry], cap), 'allowed_tools[0]', /exceeds what the operator allows/);
    }
    // Positive controls: narrower rules whose extra words unlock nothing, and a cap that names the option.
    assert.deepEqual(formatted(['Bash(git diff --stat)', 'Bash(git log -n 1)', 'Bash(find . -name *)'], cap), [
      'Bash(git diff --stat)',
      'Bash(git log -n 1)',
      'Bash(find . -name *)',
    ]);
    assert.deepEqual(formatted(['Bash(git diff --no-index *)'], ['Bash(git diff --no-index *)']), [
      'Bash(git diff --no-index *)',
    ]);
  });

  test('a domain cap admits the domain and its subdomains', () => {
    const cap = ['WebFetch(domain:example.com)'];
    assert.deepEqual(formatted(['WebFetch(domain:example.com)', 'WebFetch(domain:api.example.com)'], cap), [
      'WebFetch(domain:example.com)',
      'WebFetch(domain:api.example.com)',
    ]);
    for (const entry of ['WebFetch', 'WebFetch(domain:evilexample.com)', 'WebFetch(domain:com)']) {
      assertRejected(() => formatted([entry], cap), 'allowed_tools[0]', /exceeds what the operator allows/);
    }
  });
});
