/** The names and URLs a step gives git (src/workspaces/), judged before git ever sees them. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compilePolicy } from '../../src/runners/claude/policy.ts';
import { parseAllowList } from '../../src/runners/ssrf.ts';
import { writableByRules } from '../../src/workspaces/commit.ts';
import { parseRepoUrl, remoteConfig } from '../../src/workspaces/git-remote.ts';
import { refNameProblem } from '../../src/workspaces/refs.ts';

test('ref names follow git check-ref-format and never read as options', () => {
  for (const ok of ['main', 'feature/x', 'v1.2.3', 'docs/update-0b3c', 'a1b2c3d', 'release-2026.11']) {
    assert.equal(refNameProblem(ok), undefined, ok);
  }
  for (const bad of [
    '',
    '-x',
    '--upload-pack=touch /tmp/x',
    '../etc',
    'a..b',
    'a b',
    'a:b',
    'a~1',
    'a^',
    'a?',
    'a*',
    'a[',
    'a\\b',
    '/a',
    'a/',
    'a//b',
    'a.',
    'a@{1}',
    '@',
    '.hidden',
    'a/.b',
    'a.lock',
    'a\nb',
    'x'.repeat(256),
  ]) {
    assert.notEqual(refNameProblem(bad), undefined, JSON.stringify(bad));
  }
});

test('repo URLs: https, http only for allowed hosts, no credentials, no climbing', () => {
  const none = parseAllowList('');
  const local = parseAllowList('127.0.0.1,git.internal');
  assert.equal(parseRepoUrl('https://github.com/a/b.git', none, 'f').url, 'https://github.com/a/b.git');
  assert.equal(parseRepoUrl('http://127.0.0.1:8080/a/b.git', local, 'f').port, 8080);
  assert.equal(parseRepoUrl('http://git.internal/a/b.git', local, 'f').protocol, 'http');
  for (const [url, allow, message] of [
    ['http://github.com/a/b.git', none, /SWITCHYARD_HTTP_ALLOW/],
    ['http://127.0.0.1/a/b.git', none, /SWITCHYARD_HTTP_ALLOW/],
    ['file:///etc/a.git', local, /https:\/\/ URL, not file:/],
    ['ext::sh -c touch% /tmp/x', local, /must be an https/],
    ['ssh://git@github.com/a/b.git', local, /not ssh:/],
    ['https://x-access-token:ghs_x@github.com/a/b.git', none, /must not carry credentials/],
    ['https://github.com/a/../b.git', none, /"\." or "\.\." path segments/],
    ['https://github.com/a/%2e%2e/b.git', none, /path segments/],
    ['https://github.com/a%2F..%2F..%2Fb/c.git', none, /path segments/],
    ['https://github.com/a/b.git?x=1', none, /query or fragment/],
  ] as const) {
    assert.throws(
      () => parseRepoUrl(url, allow, 'steps.s.workspace.repo'),
      (err: Error & { field?: string }) => {
        assert.match(err.message, message, url);
        assert.equal(err.field, 'steps.s.workspace.repo');
        return true;
      },
    );
  }
});

test('a commit takes only what the write rules allow, never control files', () => {
  const policy = compilePolicy(['Read', 'Edit(docs/**)', 'Write(out/*.json)', 'Bash']);
  assert.equal(writableByRules(policy, 'docs/guide.md'), true);
  assert.equal(writableByRules(policy, 'docs/deep/a/b.md'), true);
  assert.equal(writableByRules(policy, 'out/a.json'), true);
  assert.equal(writableByRules(policy, 'out/sub/a.json'), false);
  assert.equal(writableByRules(policy, 'src/app.ts'), false);
  assert.equal(writableByRules(policy, 'docs/.git/config'), false);
  assert.equal(writableByRules(policy, 'docs/.claude/settings.json'), false);
  assert.equal(writableByRules(policy, 'docs/.mcp.json'), false);
  const anywhere = compilePolicy(['Edit']);
  assert.equal(writableByRules(anywhere, 'src/app.ts'), true);
  assert.equal(writableByRules(anywhere, '.mcp.json'), false);
  assert.equal(writableByRules(compilePolicy(['Bash']), 'a.txt'), false, 'Bash is not a write rule');
});

test('git is pinned to the address the SSRF guard checked, and gets the token as a header', async () => {
  const none = parseAllowList('');
  const repo = parseRepoUrl('https://git.example.test/a/b.git', none, 'f');
  const config = await remoteConfig(repo, 'tok123', none, async () => [{ address: '140.82.112.3', family: 4 }]);
  assert.deepEqual(Object.fromEntries(config), {
    'protocol.https.allow': 'always',
    'http.curloptResolve': 'git.example.test:443:140.82.112.3',
    'http.extraHeader': `Authorization: Basic ${Buffer.from('x-access-token:tok123').toString('base64')}`,
  });
  // A name that resolves inside (DNS rebinding's first answer, or simply an internal host) is refused.
  await assert.rejects(
    remoteConfig(repo, undefined, none, async () => [{ address: '169.254.169.254', family: 4 }]),
    { kind: 'permission_denied', message: /link-local/ },
  );
  const v6 = await remoteConfig(repo, undefined, none, async () => [{ address: '2606:50c0:8000::153', family: 6 }]);
  assert.deepEqual(v6.at(-1), ['http.curloptResolve', 'git.example.test:443:[2606:50c0:8000::153]']);
});
