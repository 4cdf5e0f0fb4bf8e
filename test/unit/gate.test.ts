import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { bashEnv } from '../../src/runners/claude/bash-env.ts';
import { decideToolCall, type GateDecision, type GateOptions } from '../../src/runners/claude/gate.ts';
import { defuseMentions } from '../../src/runners/claude/mentions.ts';
import { compilePolicy } from '../../src/runners/claude/policy.ts';
import { parseAllowList } from '../../src/runners/ssrf.ts';

// root/ws is the workspace; root/ws-evil and root/outside sit beside it.
let root: string;
let ws: string;

before(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'switchyard-gate-'));
  ws = path.join(root, 'ws');
  for (const dir of ['ws/docs/api', 'ws/src', 'ws/nb', 'ws-evil', 'outside'])
    await mkdir(path.join(root, dir), { recursive: true });
  for (const file of [
    'ws/docs/a.md',
    'ws/docs/api/b.md',
    'ws/src/a.ts',
    'ws/.env',
    'ws/nb/n.ipynb',
    'ws-evil/x',
    'outside/secret',
  ]) {
    await writeFile(path.join(root, file), 'x');
  }
  await symlink('../outside', path.join(ws, 'escape')); // directory link out of the workspace
  await symlink(path.join(root, 'outside/secret'), path.join(ws, 'docs/secret.md')); // file link out, inside a scope
  await symlink(path.join(root, 'outside/new.txt'), path.join(ws, 'docs/dangling.md')); // dangling, points out
  await symlink('docs', path.join(ws, 'manual')); // link to inside the workspace
  await symlink('../src', path.join(ws, 'docs/code')); // inside the workspace but out of the docs scope
  await symlink('ws', path.join(root, 'ws-link')); // the workspace reached through a link
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

function decide(
  allowed: string[],
  tool: string,
  input: Record<string, unknown>,
  workspace = ws,
): Promise<GateDecision> {
  return decideToolCall(compilePolicy(allowed), workspace, tool, input);
}

async function assertAllowed(allowed: string[], tool: string, input: Record<string, unknown>): Promise<void> {
  assert.deepEqual(await decide(allowed, tool, input), { allow: true }, `${tool} ${JSON.stringify(input)}`);
}

async function assertDenied(
  allowed: string[],
  tool: string,
  input: Record<string, unknown>,
  reason: string | RegExp,
): Promise<void> {
  const decision = await decide(allowed, tool, input);
  assert.equal(decision.allow, false, `${tool} ${JSON.stringify(input)} should be denied`);
  if (decision.allow) return;
  if (typeof reason === 'string') assert.equal(decision.reason, reason);
  else assert.match(decision.reason, reason);
}

describe('decideToolCall: tools', () => {
  test('denies a tool not in the policy, and everything under an empty policy', async () => {
    await assertDenied(['Read'], 'Bash', { command: 'ls' }, 'Bash is not in allowed_tools.');
    await assertDenied([], 'Read', { file_path: 'docs/a.md' }, 'Read is not in allowed_tools.');
    await assertDenied(['Read'], 'Agent', { prompt: 'x' }, 'Agent is not in allowed_tools.');
    await assertDenied(['Read'], 'mcp__x__y', {}, 'mcp__x__y is not in allowed_tools.');
  });

  test('allows scope-less tools when present', async () => {
    await assertAllowed(['WebSearch', 'TodoWrite'], 'WebSearch', { query: 'x' });
    await assertAllowed(['WebSearch', 'TodoWrite'], 'TodoWrite', { todos: [] });
    await assertDenied(['WebSearch'], 'TodoWrite', { todos: [] }, 'TodoWrite is not in allowed_tools.');
  });
});

describe('decideToolCall: paths', () => {
  test('confines an unscoped rule to the workspace', async () => {
    await assertAllowed(['Read'], 'Read', { file_path: path.join(ws, 'src/a.ts') });
    await assertAllowed(['Read'], 'Read', { file_path: 'src/a.ts' });
    await assertAllowed(['Read'], 'Read', { file_path: '.env' });
    await assertDenied(
      ['Read'],
      'Read',
      { file_path: '/etc/passwd' },
      'Read of "/etc/passwd" is outside the workspace.',
    );
    await assertDenied(['Read'], 'Read', { file_path: '../outside/secret' }, /outside the workspace/);
    await assertDenied(['Read'], 'Read', { file_path: 'src/../../outside/secret' }, /outside the workspace/);
    await assertDenied(['Read'], 'Read', { file_path: path.join(ws, '../outside/secret') }, /outside the workspace/);
    await assertDenied(['Read'], 'Read', { file_path: '~/.ssh/id_rsa' }, /outside the workspace/);
    await assertDenied(['Read'], 'Read', { file_path: 'a\0b' }, /outside the workspace/);
  });

  test('a sibling that shares the workspace prefix is outside it', async () => {
    await assertDenied(['Read'], 'Read', { file_path: `${ws}-evil/x` }, /outside the workspace/);
    await assertDenied(['Read'], 'Read', { file_path: '../ws-evil/x' }, /outside the workspace/);
    await assertAllowed(['Read'], 'Read', { file_path: `${ws}/docs/a.md` });
  });

  test('follows symlinks: out of the workspace denied, within it allowed', async () => {
    await assertDenied(
      ['Read'],
      'Read',
      { file_path: 'escape/secret' },
      'Read of "escape/secret" is outside the workspace.',
    );
    await assertDenied(['Read'], 'Read', { file_path: 'docs/secret.md' }, /outside the workspace/);
    await assertDenied(['Write'], 'Write', { file_path: 'escape/new.txt' }, /outside the workspace/);
    await assertDenied(['Write'], 'Write', { file_path: 'docs/dangling.md' }, /outside the workspace/);
    await assertDenied(['Read'], 'Read', { file_path: 'manual/../escape/secret' }, /outside the workspace/);
    await assertAllowed(['Read'], 'Read', { file_path: 'manual/a.md' });
    await assertAllowed(['Read(docs/**)'], 'Read', { file_path: 'manual/api/b.md' });
  });

  test('`..` is read the way the kernel reads it, after symlinks, as well as lexically', async () => {
    // Lexically docs/code/../a.md is docs/a.md; the kernel goes through the link to src/, then up to ws/a.md.
    await assertDenied(['Read(docs/**)'], 'Read', { file_path: 'docs/code/../a.md' }, /outside the allowed scope/);
    await assertAllowed(['Read(docs/**)'], 'Read', { file_path: 'docs/api/../a.md' });
    await assertDenied(['Write'], 'Write', { file_path: 'newdir/../x.txt' }, /outside the workspace/);
  });

  test('the workspace may itself be reached through a symlink', async () => {
    const link = path.join(root, 'ws-link');
    assert.deepEqual(await decide(['Read'], 'Read', { file_path: 'docs/a.md' }, link), { allow: true });
    assert.deepEqual(await decide(['Read'], 'Read', { file_path: path.join(ws, 'docs/a.md') }, link), { allow: true });
    const missing = await decide(['Read'], 'Read', { file_path: 'a' }, path.join(root, 'nope'));
    assert.equal(missing.allow, false);
  });

  test('Edit(docs/**) allows docs/ and denies everything else', async () => {
    await assertAllowed(['Edit(docs/**)'], 'Edit', { file_path: 'docs/a.md', old_string: 'x', new_string: 'y' });
    await assertAllowed(['Edit(docs/**)'], 'Edit', { file_path: path.join(ws, 'docs/api/b.md') });
    await assertDenied(
      ['Edit(docs/**)'],
      'Edit',
      { file_path: 'src/a.ts' },
      'Edit of "src/a.ts" is outside the allowed scope (docs/**).',
    );
    await assertDenied(['Edit(docs/**)'], 'Edit', { file_path: 'docs/code/a.ts' }, /outside the allowed scope/);
    await assertDenied(['Edit(docs/**)', 'Read'], 'Edit', { file_path: '.env' }, /outside the allowed scope/);
    await assertAllowed(['Edit(docs/**)', 'Edit(src/*.ts)'], 'Edit', { file_path: 'src/a.ts' });
    await assertAllowed(['Edit(docs/**)', 'Edit'], 'Edit', { file_path: 'src/a.ts' });
  });

  test('Write of a new file: inside the scope allowed, outside denied', async () => {
    await assertAllowed(['Write(out/**)'], 'Write', { file_path: 'out/new/deep/file.txt', content: 'x' });
    await assertAllowed(['Write(docs/**)'], 'Write', { file_path: 'docs/new.md', content: 'x' });
    await assertDenied(
      ['Write(out/**)'],
      'Write',
      { file_path: 'src/new.ts', content: 'x' },
      /outside the allowed scope \(out\/\*\*\)/,
    );
    await assertDenied(
      ['Write(out/**)'],
      'Write',
      { file_path: path.join(root, 'outside/new.txt') },
      /outside the workspace/,
    );
  });

  test('NotebookEdit checks notebook_path', async () => {
    await assertAllowed(['NotebookEdit(nb/**)'], 'NotebookEdit', { notebook_path: 'nb/n.ipynb', new_source: '' });
    await assertDenied(
      ['NotebookEdit(nb/**)'],
      'NotebookEdit',
      { notebook_path: 'docs/n.ipynb' },
      /outside the allowed scope/,
    );
    await assertDenied(
      ['NotebookEdit'],
      'NotebookEdit',
      { file_path: 'nb/n.ipynb' },
      'NotebookEdit needs a notebook_path.',
    );
  });

  test('every path field is checked, and missing or odd ones are denied', async () => {
    await assertDenied(['Read'], 'Read', {}, 'Read needs a file_path.');
    await assertDenied(['Read'], 'Read', { file_path: 42 }, 'Read needs a file_path.');
    await assertDenied(['Read'], 'Read', { file_path: 'docs/a.md', path: '/etc' }, /"\/etc" is outside the workspace/);
    await assertDenied(['Glob'], 'Glob', { pattern: '*', path: ['x'] }, 'Glob path must be a string.');
  });

  test('Glob and Grep default to the workspace and stay in it', async () => {
    await assertAllowed(['Glob'], 'Glob', { pattern: '**/*.ts' });
    await assertAllowed(['Glob'], 'Glob', { pattern: '*.md', path: 'docs' });
    await assertAllowed(['Grep'], 'Grep', { pattern: 'TODO', glob: '*.ts' });
    await assertDenied(['Glob'], 'Glob', { pattern: '*', path: '/etc' }, /outside the workspace/);
    await assertDenied(['Grep'], 'Grep', { pattern: 'root', path: '/etc/passwd' }, /outside the workspace/);
    await assertDenied(['Grep'], 'Grep', { pattern: 'x', path: 'escape' }, /outside the workspace/);
    await assertDenied(['Glob'], 'Glob', { pattern: '/etc/*' }, /Glob pattern "\/etc\/\*" must be relative/);
    await assertDenied(['Glob'], 'Glob', { pattern: '../outside/*' }, /must be relative/);
    await assertDenied(['Glob'], 'Glob', { pattern: 'src/../../*' }, /must be relative/);
    await assertDenied(['Glob'], 'Glob', { pattern: '{/etc/*,x}' }, /must be relative/);
    await assertDenied(['Glob'], 'Glob', { pattern: '{..,x}/*' }, /must be relative/);
    await assertDenied(['Glob'], 'Glob', { pattern: '~/*' }, /must be relative/);
    await assertDenied(['Grep'], 'Grep', { pattern: 'x', glob: '../**' }, /must be relative/);
  });

  test('a scoped Glob or Grep searches only inside a whole-subtree scope', async () => {
    await assertAllowed(['Grep(docs/**)'], 'Grep', { pattern: 'x', path: 'docs' });
    await assertAllowed(['Grep(docs/**)'], 'Grep', { pattern: 'x', path: 'docs/api' });
    await assertAllowed(['Grep(docs/*.md)'], 'Grep', { pattern: 'x', path: 'docs/a.md' });
    await assertAllowed(['Glob(**)'], 'Glob', { pattern: '*' });
    await assertDenied(
      ['Grep(docs/**)'],
      'Grep',
      { pattern: 'x' },
      'Grep of "." is outside the allowed scope (docs/**).',
    );
    await assertDenied(['Grep(docs/**)'], 'Grep', { pattern: 'x', path: 'src' }, /outside the allowed scope/);
    await assertDenied(['Grep(docs/*.md)'], 'Grep', { pattern: 'x', path: 'docs' }, /outside the allowed scope/);
    await assertDenied(['Glob(docs/**)'], 'Glob', { pattern: '*', path: 'docs/code' }, /outside the allowed scope/);
  });
});

describe('decideToolCall: Bash', () => {
  const rules = ['Bash(git diff *)', 'Bash(npm test)', 'Bash(git log*)'];

  test('allows commands whose every piece matches a rule', async () => {
    for (const command of [
      'git diff HEAD',
      'git diff',
      'git diff \'HEAD~1\' -- "docs/a b.md"',
      'npm test',
      'git log --oneline',
      'git logx',
      'git diff HEAD && npm test',
      'git diff | git log -1',
      'git diff; npm test',
      'git diff\nnpm test',
      'git diff 2>&1',
      'npm test >/dev/null 2>&1',
      'git diff *.md',
      'git diff \'a;b\' "c|d" e\\;f',
      "git diff '$(id)' '`id`' '#x'",
    ]) {
      await assertAllowed(rules, 'Bash', { command });
    }
  });

  test('denies pieces that match no rule, by their parsed words', async () => {
    const cases: [string, string | RegExp][] = [
      ['rm -rf /', 'Bash command refused: "rm -rf /" matches no allowed Bash rule (git diff *, npm test, git log*).'],
      ['git diff; rm -rf /', /"rm -rf \/" matches no allowed Bash rule/],
      ['git diff && curl x', /"curl x" matches no allowed Bash rule/],
      ['git diff || curl x', /"curl x"/],
      ['git diff | sh', /"sh" matches no/],
      ['git diff & curl x', /"curl x"/],
      ['git diff\ncurl x', /"curl x"/],
      ['npm test --watch', /"npm test --watch" matches no/],
      ['npm', /"npm" matches no/],
      ['git status', /"git status" matches no/],
      ['gitdiff', /matches no/],
      ['PAGER=sh git diff', /"PAGER=sh git diff" matches no/],
      ['npm te*', /matches no/],
      ['if git diff; then rm x; fi', /"if git diff" matches no/],
      ['', 'Bash command refused: the command is empty.'],
    ];
    for (const [command, reason] of cases) await assertDenied(rules, 'Bash', { command }, reason);
  });

  test('refuses substitutions, expansions, redirections and comments even under an unscoped rule', async () => {
    const cases: [string, RegExp][] = [
      ['git diff $(rm -rf /)', /command substitution is not allowed/],
      ['git diff `rm -rf /`', /command substitution is not allowed/],
      ['git diff "$(id)"', /command substitution is not allowed/],
      ['git diff "`id`"', /command substitution is not allowed/],
      ['git diff $HOME', /variable expansion \(\$\) is not allowed/],
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell expansion, not a template
      ['git diff "${HOME}"', /variable expansion/],
      ["git diff $'\\x3b'", /variable expansion/],
      ['git diff > /etc/passwd', /redirection or here-doc/],
      ['git diff >> out.txt', /redirection/],
      ['git diff < in.txt', /redirection/],
      ['git diff 2>err.txt', /redirection/],
      ['git diff >/dev/nullx', /redirection/],
      ['git diff >&out.txt', /redirection/],
      ['git diff <<EOF\nx\nEOF', /redirection/],
      ['git diff <(cat /etc/passwd)', /redirection/],
      ['(rm -rf /)', /subshell/],
      ['git diff a#b; rm -rf /', /a comment \(#\) is not allowed/],
      ['git diff # rm', /comment/],
      ['git diff "unterminated', /unterminated quote/],
      ['git diff \\\nrm', /line continuation/],
      ['git diff\u00a0;rm', /unusual whitespace/],
      ['git diff\r\nrm', /control/],
    ];
    for (const [command, reason] of cases) {
      await assertDenied(rules, 'Bash', { command }, reason);
      await assertDenied(['Bash'], 'Bash', { command }, reason);
    }
  });

  test('an unscoped rule allows any plain command; a non-string command is denied', async () => {
    await assertAllowed(['Bash'], 'Bash', { command: 'rm -rf build && ls | wc -l' });
    await assertAllowed(['Bash(*)'], 'Bash', { command: 'echo hi; ls' });
    await assertDenied(['Bash'], 'Bash', { command: ['ls'] }, 'Bash needs a command string.');
  });
});

describe('decideToolCall: WebFetch', () => {
  const rules = ['WebFetch(domain:example.com)'];
  // A resolver that answers from this table and never asks DNS: no traffic leaves the test.
  const table: Record<string, string[]> = {
    'example.com': ['93.184.215.14'],
    'api.example.com': ['93.184.215.14'],
    'anything.test': ['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'],
    'intranet.test': ['10.1.2.3'],
    'mixed.test': ['93.184.215.14', '169.254.169.254'],
    'rebind.test': ['::ffff:127.0.0.1'],
    localhost: ['127.0.0.1', '::1'],
  };
  const resolveAll = async (hostname: string) => {
    const addresses = table[hostname];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  const decideFetch = (allowed: string[], url: string, options: GateOptions = {}) =>
    decideToolCall(compilePolicy(allowed), ws, 'WebFetch', { url, prompt: 'x' }, { resolveAll, ...options });
  const allowed = async (allowedTools: string[], url: string, options?: GateOptions) =>
    assert.deepEqual(await decideFetch(allowedTools, url, options), { allow: true }, url);
  const denied = async (allowedTools: string[], url: string, reason: string | RegExp, options?: GateOptions) => {
    const decision = await decideFetch(allowedTools, url, options);
    assert.equal(decision.allow, false, `${url} should be denied`);
    if (decision.allow) return;
    if (typeof reason === 'string') assert.equal(decision.reason, reason);
    else assert.match(decision.reason, reason);
  };
  const internal = /is not allowed: the host is or resolves to an internal address/;

  test('a domain scope admits that host and its subdomains only', async () => {
    await allowed(rules, 'https://example.com/a');
    await allowed(rules, 'http://api.EXAMPLE.com:8080/a');
    await denied(
      rules,
      'https://evilexample.com/',
      'WebFetch of evilexample.com is not allowed: the host is outside the allowed domains.',
    );
    await denied(rules, 'https://example.com.evil.net/', /example\.com\.evil\.net is not allowed/);
    await denied(rules, 'https://example.com@evil.net/', /evil\.net is not allowed/);
    await denied(rules, 'https://127.0.0.1/', /is not allowed/);
  });

  test('only absolute http(s) URLs, scoped or not', async () => {
    await allowed(['WebFetch'], 'https://anything.test/');
    await denied(['WebFetch'], 'file:///etc/passwd', 'WebFetch only fetches http(s) URLs.');
    await denied(['WebFetch'], 'example.com', 'WebFetch needs an absolute http(s) URL.');
    const decision = await decideToolCall(compilePolicy(['WebFetch']), ws, 'WebFetch', {}, { resolveAll });
    assert.deepEqual(decision, { allow: false, reason: 'WebFetch needs a url string.' });
  });

  test('refuses loopback, private, link-local and metadata addresses, however they are spelled', async () => {
    for (const url of [
      'http://127.0.0.1/',
      'http://127.0.0.1:8080/admin',
      'http://169.254.169.254/latest/meta-data/',
      'http://[::1]/',
      'http://[::ffff:127.0.0.1]/',
      'http://0x7f.1/', // the URL parser turns these into 127.0.0.1
      'http://2130706433/',
      'http://0.0.0.0/',
      'http://10.0.0.1/',
      'http://192.168.1.1/',
      'http://[fd00::1]/',
      'https://intranet.test/',
      'https://mixed.test/', // one internal record is enough
      'https://rebind.test/',
    ]) {
      await denied(['WebFetch'], url, internal);
    }
    // The reason names the host the model asked for, never what it resolved to.
    const decision = await decideFetch(['WebFetch'], 'https://intranet.test/');
    assert.ok(!decision.allow && !decision.reason.includes('10.1.2.3'));
  });

  test('localhost is refused however it is spelled, by what it resolves to', async () => {
    // The injected resolver answers for localhost as /etc/hosts does, so the host's own file does not matter.
    for (const url of ['http://localhost:7847/v1/tasks', 'http://LOCALHOST./'])
      await denied(['WebFetch'], url, internal);
    // The control: admitted once the operator allows the loopback addresses it resolves to.
    await allowed(['WebFetch'], 'http://LOCALHOST./', { httpAllow: parseAllowList('127.0.0.1/32, ::1/128') });
  });

  test('the guard also holds under a domain scope that names an internal host', async () => {
    await denied(['WebFetch(domain:intranet.test)'], 'https://intranet.test/', internal);
    await denied(['WebFetch(domain:localhost)'], 'http://localhost/', internal);
  });

  test('SWITCHYARD_HTTP_ALLOW admits an internal host or network, and only that', async () => {
    const httpAllow = parseAllowList('127.0.0.1/32, intranet.test');
    await allowed(['WebFetch'], 'http://127.0.0.1:8080/', { httpAllow });
    await allowed(['WebFetch'], 'https://intranet.test/', { httpAllow });
    await denied(['WebFetch'], 'http://127.0.0.2/', internal, { httpAllow });
    await denied(['WebFetch'], 'http://169.254.169.254/', internal, { httpAllow });
    await denied(['WebFetch(domain:example.com)'], 'http://127.0.0.1/', /outside the allowed domains/, { httpAllow });
  });

  test('a name that does not resolve is refused', async () => {
    await denied(
      ['WebFetch'],
      'https://nowhere.test/',
      'WebFetch of nowhere.test is not allowed: the host name could not be resolved.',
    );
  });
});

test('files that make code run later are never writable, whatever the rule', async () => {
  const ws = await mkdtemp(path.join(tmpdir(), 'gate-control-'));
  try {
    await mkdir(path.join(ws, 'docs'));
    const policy = compilePolicy(['Write', 'Edit', 'Read']);
    for (const file of [
      '.claude/settings.json',
      '.claude/settings.local.json',
      'docs/.claude/x.json',
      '.mcp.json',
      '.git/hooks/pre-commit',
      '.git/config',
    ]) {
      for (const tool of ['Write', 'Edit']) {
        const d = await decideToolCall(policy, ws, tool, { file_path: file });
        assert.equal(d.allow, false, `${tool} ${file}`);
      }
    }
    // Positive controls: ordinary files are writable and control files are still readable.
    assert.deepEqual(await decideToolCall(policy, ws, 'Write', { file_path: 'docs/a.md' }), { allow: true });
    assert.deepEqual(await decideToolCall(policy, ws, 'Write', { file_path: 'claude.md' }), { allow: true });
    assert.deepEqual(await decideToolCall(policy, ws, 'Read', { file_path: '.mcp.json' }), { allow: true });
  } finally {
    await rm(ws, { recursive: true, force: true });
  }
});

test('control files are judged on real paths: a link into .git/, a workspace inside .git/ or .claude/', async () => {
  const top = await mkdtemp(path.join(tmpdir(), 'gate-control-real-'));
  try {
    // repo/.git is a real git dir beside the workspace; a link in the workspace points into it.
    await mkdir(path.join(top, 'repo/.git/hooks'), { recursive: true });
    await mkdir(path.join(top, 'ws/docs'), { recursive: true });
    await symlink(path.join(top, 'repo/.git'), path.join(top, 'ws/docs/gitdir'));
    await mkdir(path.join(top, 'repo/.git/ws'), { recursive: true });
    await mkdir(path.join(top, 'home/.claude/ws'), { recursive: true });
    const policy = compilePolicy(['Write']);
    const write = (ws: string, file: string) =>
      decideToolCall(policy, path.join(top, ws), 'Write', { file_path: file });
    // The link resolves outside the workspace anyway; a workspace that itself lies in .git/ or .claude/
    // (the control directory is above the cwd) has no writable file at all.
    assert.equal((await write('ws', 'docs/gitdir/hooks/pre-commit')).allow, false);
    assert.match(
      JSON.stringify(await write('repo/.git/ws', 'a.txt')),
      /\.claude\/, \.git\/ and \.mcp\.json are never writable/,
    );
    assert.equal((await write('home/.claude/ws', 'settings.json')).allow, false);
    // Positive control: an ordinary file in an ordinary workspace.
    assert.deepEqual(await write('ws', 'docs/a.md'), { allow: true });
  } finally {
    await rm(top, { recursive: true, force: true });
  }
});

describe('decideToolCall: what a Bash rule lets its arguments reach', () => {
  const rules = ['Bash(git diff *)', 'Bash(git log*)', 'Bash(cat *)', 'Bash(find *)', 'Bash(touch *)'];

  test('plain git and in-workspace arguments still work (the positive controls)', async () => {
    for (const command of [
      'git diff',
      'git diff -- docs/a.md',
      'git log -n 1',
      'git log --oneline -5',
      'git diff HEAD~1 --stat',
      'git diff HEAD@{1}..HEAD',
      'git diff --text --no-ext-diff --no-textconv',
      'git diff --output-indicator-new=+ --color=never',
      'git diff -C -M -- docs',
      'cat docs/a.md src/a.ts',
      'cat manual/a.md',
      'cat docs/api/*.md',
      'cat docs/api/b.md >/dev/null',
      'git diff -- /dev/null docs/a.md 2>/dev/null',
      'find . -name "*.md"',
      'touch docs/new.md',
    ]) {
      await assertAllowed(rules, 'Bash', { command });
    }
  });

  test('git options that leave the workspace or run programs are refused unless the rule names them', async () => {
    const cases: [string[], string, RegExp][] = [
      [rules, 'git diff --no-index /dev/null /etc/passwd', /option "--no-index" of git is not allowed/],
      [rules, 'git diff --no-index docs/a.md src/a.ts', /"--no-index"/],
      [rules, 'git diff --output=/tmp/x', /"--output=\/tmp\/x"/],
      [rules, 'git diff --output docs/out.txt', /"--output"/],
      [rules, 'git diff --out=docs/x', /"--out=docs\/x"/], // git takes unambiguous abbreviations
      [rules, 'git diff --ext-diff', /"--ext-diff"/],
      [rules, 'git diff --textconv', /"--textconv"/],
      [rules, 'git log --output=x', /"--output=x"/],
      [['Bash(git *)'], 'git -C /etc diff', /option "-C" of git/],
      [['Bash(git *)'], 'git -c core.pager=sh log', /option "-c" of git/],
      [['Bash(git *)'], 'git --git-dir=sub diff', /"--git-dir=sub"/],
      [['Bash(git *)'], 'git --work-tree=docs diff', /"--work-tree=docs"/],
      [['Bash(git *)'], 'git --exec-path=docs diff', /"--exec-path=docs"/],
      [['Bash(git *)'], 'git -p log', /"-p"/],
      [['Bash(git *)'], 'git config core.fsmonitor "touch x"', /git config runs programs or rewrites configuration/],
      [['Bash(git *)'], 'git difftool --extcmd=sh', /git difftool runs programs/],
      [['Bash(git *)'], 'git grep -O/bin/sh x', /option "-O\/bin\/sh" of git grep/],
      [['Bash(git *)'], 'git grep -nOsh x', /"-nOsh"/],
      [['Bash(git *)'], 'git rebase -x "sh x" HEAD~1', /"-x" of git rebase/],
      [['Bash(git *)'], 'git fetch --upload-pack=sh origin', /"--upload-pack=sh"/],
      [['Bash(git *)'], 'git clone -u sh origin d', /"-u" of git clone/],
      [['Bash(git *)'], 'git -c core.fsmonitor=x status', /option "-c" of git/],
      [['Bash(git -C docs *)'], 'git -C docs config core.fsmonitor x', /git config runs programs/],
      [['Bash(git *)'], 'git format-patch -o.. HEAD~1', /"-o\.\." reaches outside/],
      [['Bash(rg *)'], 'rg --pre=sh x', /option "--pre=sh" of rg/],
      [['Bash(rg *)'], 'rg --pre sh x', /"--pre"/],
      [['Bash(tar *)'], 'tar --to-command=sh -xf docs/a.tar', /"--to-command=sh" of tar/],
      [['Bash(tar *)'], 'tar -I sh -xf docs/a.tar', /"-I" of tar/],
      [['Bash(find *)'], 'find . -exec sh -c x ;', /option "-exec" of find/],
      [['Bash(find *)'], 'find . -delete', /"-delete"/],
    ];
    for (const [allowed, command, reason] of cases) await assertDenied(allowed, 'Bash', { command }, reason);
    // Positive controls: the rule names the option or subcommand, so the client asked for it.
    await assertAllowed(['Bash(git diff --no-index *)'], 'Bash', { command: 'git diff --no-index docs/a.md src/a.ts' });
    await assertAllowed(['Bash(git -C docs diff *)'], 'Bash', { command: 'git -C docs diff --stat' });
    await assertAllowed(['Bash(git config --get *)'], 'Bash', { command: 'git config --get user.name' });
    await assertAllowed(['Bash(git *)'], 'Bash', { command: 'git --no-pager log -n 1' });
    await assertAllowed(['Bash(git *)'], 'Bash', { command: 'git grep -n x -- docs' });
    await assertAllowed(['Bash(git *)'], 'Bash', { command: 'git -c user.name=t -c user.email=t@x commit -m m' });
    await assertAllowed(['Bash(git -C docs *)'], 'Bash', { command: 'git -C docs log -n 1' });
    await assertAllowed(['Bash(rg *)', 'Bash(tar *)'], 'Bash', { command: 'rg -n x docs && tar -tf docs/a.tar' });
    await assertAllowed(['Bash(git diff *)', 'Bash(git diff --output *)'], 'Bash', {
      command: 'git diff --output docs/x.patch',
    });
  });

  test('a glob in a command is expanded in linear time: the model writes it, so it must not backtrack', {
    timeout: 60_000,
  }, async () => {
    // picomatch's RegExp tries C(n, 12) ways to place the a's in this n-letter name: it never returns.
    const name = `${'a'.repeat(200)}.txt`;
    await writeFile(path.join(ws, 'docs', name), 'x');
    try {
      await assertAllowed(['Bash(cat *)'], 'Bash', { command: 'cat docs/*a*a*a*a*a*a*a*a*a*a*a*a*b' });
      // The control: a glob that reaches outside through a match is still found and refused.
      await assertDenied(['Bash(cat *)'], 'Bash', { command: 'cat docs/secret*' }, /outside/);
    } finally {
      await rm(path.join(ws, 'docs', name));
    }
  });

  test('arguments that reach outside the workspace or its control files are refused for any program', async () => {
    const cases: [string, RegExp][] = [
      ['cat /etc/passwd', /argument "\/etc\/passwd" reaches outside the workspace/],
      ['cat ../outside/secret', /"\.\.\/outside\/secret" reaches outside/],
      ['cat docs/../../outside/secret', /reaches outside/],
      ['cat escape/secret', /"escape\/secret" reaches outside/], // a directory link out
      ['cat docs/secret.md', /"docs\/secret\.md" reaches outside/], // a file link out
      ['cat ~/x', /names the home directory/],
      ['cat ~root/.ssh/id_rsa', /home directory/],
      ['git diff --stat=1 -- ~/x', /home directory/],
      ['git diff -- ../outside', /reaches outside/],
      ['git diff HEAD -- /etc', /reaches outside/],
      ['git log --format=%H -- ..', /reaches outside/],
      ['cat esc*/secret', /"escape\/secret" reaches outside the workspace \(matched by "esc\*\/secret"\)/],
      ['cat docs/*.md', /reaches outside the workspace \(matched by "docs\/\*\.md"\)/], // docs/secret.md links out
      ['cat /etc/pass*', /pattern that may reach outside/],
      ['cat .*', /pattern that may reach outside/],
      ['cat {/etc/passwd,docs/a.md}', /brace expansion/],
      ['cat docs/{a,b}.md', /brace expansion/],
      ['cat {..,docs}/x', /brace expansion/],
      ['touch .claude/settings.json', /names \.claude\/, \.git\/ or \.mcp\.json/],
      ['touch .mcp.json', /\.mcp\.json/],
      ['touch docs/.git/config', /\.git\//],
      ['git diff -- file:///etc/passwd', /reaches outside/],
    ];
    for (const [command, reason] of cases) await assertDenied(rules, 'Bash', { command }, reason);
    // Positive controls beside them: the same programs on paths inside.
    await assertAllowed(rules, 'Bash', { command: 'cat docs/api/b.md' });
    await assertAllowed(rules, 'Bash', { command: 'git diff -- docs' });
    await assertAllowed(rules, 'Bash', { command: 'touch docs/b.md' });
    // The rule's own words are checked too: a rule confines to the workspace, it cannot open a path out.
    await assertDenied(['Bash(cat /etc/hostname)'], 'Bash', { command: 'cat /etc/hostname' }, /reaches outside/);
    await assertDenied(
      ['Bash(git diff --no-index *)'],
      'Bash',
      { command: 'git diff --no-index /dev/null /etc/passwd' },
      /"\/etc\/passwd" reaches outside/,
    );
    // `cat docs/*` is the rule's own prefix word: what the model appends to it is still checked.
    await assertAllowed(['Bash(cat docs/*)'], 'Bash', { command: 'cat docs/a.md' });
    await assertDenied(['Bash(cat docs/*)'], 'Bash', { command: 'cat docs/../../outside/secret' }, /reaches outside/);
  });

  test('a command with more words than any real one is refused rather than checked word by word', async () => {
    await assertDenied(rules, 'Bash', { command: `cat ${'docs/a.md '.repeat(1001)}` }, /more than 1000 words/);
    await assertAllowed(rules, 'Bash', { command: `cat ${'docs/a.md '.repeat(999)}` });
  });

  test('an unscoped Bash rule (Bash, Bash(*)) is not argument-checked: the sandbox is its confinement', async () => {
    await assertAllowed(['Bash'], 'Bash', { command: 'cat /etc/hostname' });
    await assertAllowed(['Bash(*)'], 'Bash', { command: 'git diff --no-index /dev/null /etc/hostname' });
  });
});

test('defuseMentions marks every @ that could begin a mention and leaves e-mail addresses alone', () => {
  const Z = '\u200b';
  assert.equal(defuseMentions('@docs/x.md'), `${Z}@docs/x.md`);
  assert.equal(defuseMentions('Summarise @/etc/passwd and @"a b.md"'), `Summarise ${Z}@/etc/passwd and ${Z}@"a b.md"`);
  assert.equal(
    defuseMentions('line\n@src/a.ts\t@x\u3000@y\u3002@z'),
    `line\n${Z}@src/a.ts\t${Z}@x\u3000${Z}@y\u3002${Z}@z`,
  );
  assert.equal(defuseMentions('(@agent-x) "@server:res"'), `(${Z}@agent-x) "${Z}@server:res"`);
  assert.equal(defuseMentions('x@[doc](claude-ref:a "t")'), `x@${Z}[doc](claude-ref:a "t")`);
  // Already defused text is left as it is, so defusing twice changes nothing.
  assert.equal(defuseMentions(defuseMentions('@a @b')), `${Z}@a ${Z}@b`);
  // Positive controls: an @ inside a word is never a mention; text without @ is returned as is.
  assert.equal(
    defuseMentions('mail ops@example.com or git show HEAD@{1}'),
    'mail ops@example.com or git show HEAD@{1}',
  );
  assert.equal(defuseMentions('no mentions'), 'no mentions');
});

test('a cd within a command moves where its relative arguments are read; cd out, cd -, bare cd and popd are refused', async () => {
  const rules = ['Bash(cd *)', 'Bash(cat *)', 'Bash(pushd *)', 'Bash(popd)', 'Bash(cd)'];
  // docs/secret.md links out: named from docs/ it is `secret.md`, which from the workspace is nothing.
  await assertDenied(rules, 'Bash', { command: 'cd docs && cat secret.md' }, /"secret\.md" reaches outside/);
  await assertDenied(rules, 'Bash', { command: 'cd docs; cat code/../../outside/secret' }, /reaches outside/);
  await assertDenied(rules, 'Bash', { command: 'pushd escape && cat secret' }, /"escape" reaches outside/);
  await assertDenied(rules, 'Bash', { command: 'cd ..' }, /"\.\." reaches outside/);
  await assertDenied(rules, 'Bash', { command: 'cd - && cat x' }, /cd needs exactly one directory/);
  await assertDenied(rules, 'Bash', { command: 'cd' }, /cd needs exactly one directory/);
  await assertDenied(rules, 'Bash', { command: 'popd' }, /popd is not allowed/);
  // Positive controls: moving inside the workspace and reading from there.
  await assertAllowed(rules, 'Bash', { command: 'cd docs && cat a.md api/b.md' });
  await assertAllowed(rules, 'Bash', { command: 'cd docs/api; cat ../a.md' });
  await assertAllowed(rules, 'Bash', { command: 'cd manual && cat a.md' });
});

test('bashEnv: real git ignores a planted repository, finds no repository above the cwd, and still works in its own', async () => {
  const top = await mkdtemp(path.join(tmpdir(), 'gate-git-'));
  const run = (cwd: string, env: Record<string, string>, ...args: string[]) =>
    spawnSync('git', args, {
      cwd,
      encoding: 'utf8',
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        GIT_CONFIG_NOSYSTEM: '1',
        GIT_CONFIG_GLOBAL: '/dev/null',
        ...env,
      },
    });
  try {
    // planted/: HEAD, objects/, refs/ and a config naming an fsmonitor, all writable with Write alone.
    const planted = path.join(top, 'planted');
    const marker = path.join(top, 'PWNED');
    await mkdir(path.join(planted, 'objects'), { recursive: true });
    await mkdir(path.join(planted, 'refs'), { recursive: true });
    await writeFile(path.join(planted, 'HEAD'), 'ref: refs/heads/main\n');
    await writeFile(
      path.join(planted, 'config'),
      `[core]\n\trepositoryformatversion = 0\n\tbare = false\n\tworktree = ${planted}\n\tfsmonitor = "touch ${marker}; false"\n`,
    );
    const guarded = run(planted, bashEnv(planted), 'status');
    assert.match(guarded.stderr, /cannot use bare repository/);
    assert.equal(existsSync(marker), false, 'the planted fsmonitor ran under bashEnv');
    // Control: without bashEnv the same git runs the planted program.
    run(planted, {}, 'status');
    assert.equal(existsSync(marker), true, 'the planted repository should be live without bashEnv');

    // outer/ is a repository; outer/ws is a task's cwd inside it: git must not find outer/.git.
    const outer = path.join(top, 'outer');
    const ws = path.join(outer, 'ws');
    await mkdir(ws, { recursive: true });
    run(outer, {}, 'init', '-q');
    assert.match(run(ws, bashEnv(ws), 'status').stderr, /not a git repository/);
    assert.equal(run(ws, {}, 'status').status, 0, 'control: without the ceiling git finds outer/.git');
    // Positive control: a repository at the cwd works, with its own config's programs off.
    run(ws, {}, 'init', '-q');
    run(ws, {}, 'config', 'core.fsmonitor', `touch ${marker}-own`);
    const own = run(ws, bashEnv(ws), 'status');
    assert.equal(own.status, 0, own.stderr);
    assert.equal(existsSync(`${marker}-own`), false);
  } finally {
    await rm(top, { recursive: true, force: true });
  }
});
