/** Bad input gets a 4xx naming the field, never a 500 or a stack trace, and the server keeps serving. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { INSTALL_DIR, loadConfig } from '../../src/config.ts';
import { AppError } from '../../src/errors.ts';
import { type Harness, startHarness, tempDir } from '../fixtures/harness.ts';

let h: Harness;
before(async () => {
  h = await startHarness({ env: { SWITCHYARD_MAX_PROMPT_BYTES: String(1024 * 1024) } });
});
after(() => h.close());

async function post(body: string | unknown, path = '/v1/tasks', headers: Record<string, string> = {}) {
  const res = await h.fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  assert.doesNotMatch(text, /\bat .*\.ts:\d+/, 'no stack trace in the response');
  return { status: res.status, body: JSON.parse(text) as { error: { kind: string; message: string; field?: string } } };
}

const cases: Array<[string, string | unknown, number, string]> = [
  ['malformed JSON', '{"prompt": ', 400, 'body'],
  ['empty body', '', 400, 'body'],
  ['an array body', '[1,2]', 400, 'body'],
  ['missing prompt', { allowed_tools: ['Read'] }, 400, 'prompt'],
  ['prompt of the wrong type', { prompt: 42 }, 400, 'prompt'],
  ['empty prompt', { prompt: '' }, 400, 'prompt'],
  ['unknown field (misspelled allowedTools)', { prompt: 'x', allowedTools: ['Read'] }, 400, 'allowedTools'],
  ['allowed_tools not an array', { prompt: 'x', allowed_tools: 'Read' }, 400, 'allowed_tools'],
  ['unknown tool', { prompt: 'x', allowed_tools: ['Read', 'Bsh'] }, 400, 'allowed_tools[1]'],
  ['malformed rule', { prompt: 'x', allowed_tools: ['Edit(docs/**'] }, 400, 'allowed_tools[0]'],
  ['negative timeout', { prompt: 'x', timeout: -5 }, 400, 'timeout'],
  ['absurd timeout', { prompt: 'x', timeout: 1e12 }, 400, 'timeout'],
  ['fractional timeout', { prompt: 'x', timeout: 1500.5 }, 400, 'timeout'],
  ['timeout as a string', { prompt: 'x', timeout: '120000' }, 400, 'timeout'],
  ['cwd outside the roots', { prompt: 'x', cwd: '/etc' }, 400, 'cwd'],
  ['cwd escaping with ..', { prompt: 'x', cwd: '../..' }, 400, 'cwd'],
  ['cwd that does not exist', { prompt: 'x', cwd: 'nope' }, 400, 'cwd'],
  ['max_turns zero', { prompt: 'x', max_turns: 0 }, 400, 'max_turns'],
  ['negative budget', { prompt: 'x', max_budget_usd: -1 }, 400, 'max_budget_usd'],
  ['invalid output_schema', { prompt: 'x', output_schema: { type: 'nonsense' } }, 400, 'output_schema'],
  [
    'output_schema with a broken regex',
    { prompt: 'x', output_schema: { type: 'string', pattern: '([' } },
    400,
    'output_schema',
  ],
  ['a non-string tool rule', { prompt: 'x', allowed_tools: ['Read', 5] }, 400, 'allowed_tools[1]'],
  ['model with spaces', { prompt: 'x', model: 'a b' }, 400, 'model'],
  [
    'webhook_url without an operator secret',
    { prompt: 'x', webhook_url: 'https://example.test/h' },
    400,
    'webhook_url',
  ],
  ['deeply nested JSON', `{"prompt":"x","metadata":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`, 400, 'body'],
];

for (const [name, body, status, field] of cases) {
  test(`${name} → ${status} naming ${field}`, async () => {
    const res = await post(body);
    assert.equal(res.status, status, JSON.stringify(res.body));
    assert.equal(res.body.error.field, field, res.body.error.message);
    assert.equal(typeof res.body.error.message, 'string');
  });
}

test('a 10 MiB prompt → 413 and the server keeps serving', async () => {
  const res = await post({ prompt: 'x'.repeat(10 * 1024 * 1024) });
  assert.equal(res.status, 413);
  assert.equal(res.body.error.kind, 'payload_too_large');
  const health = await h.fetch('/health');
  assert.equal(health.status, 200);
});

test('a prompt just over the configured limit → 413 naming prompt', async () => {
  const res = await post({ prompt: 'x'.repeat(1024 * 1024 + 1) });
  assert.equal(res.status, 413);
  assert.equal(res.body.error.field, 'prompt');
});

test('query parameters are validated: wait, limit, status, cursor', async () => {
  for (const [path, field] of [
    ['/v1/tasks/abc?wait=-1', 'wait'],
    ['/v1/tasks/abc?wait=1e9', 'wait'],
    ['/v1/tasks?limit=0', 'limit'],
    ['/v1/tasks?status=done', 'status'],
    ['/v1/tasks?cursor=%27%3B%20drop', 'cursor'],
  ] as const) {
    const res = await h.fetch(path);
    assert.equal(res.status, 400, path);
    assert.equal(((await res.json()) as { error: { field: string } }).error.field, field);
  }
});

test('unknown task → 404 with kind not_found; unknown route → 404', async () => {
  const res = await h.fetch('/sessions/does-not-exist');
  assert.equal(res.status, 404);
  assert.equal(((await res.json()) as { error: { kind: string } }).error.kind, 'not_found');
  const route = await h.fetch('/v2/nothing');
  assert.equal(route.status, 404);
});

test('a bad Idempotency-Key header → 400 naming it', async () => {
  const res = await post({ prompt: 'x' }, '/v1/tasks', { 'idempotency-key': 'a'.repeat(300) });
  assert.equal(res.status, 400);
  assert.equal(res.body.error.field, 'Idempotency-Key');
});

test('follow-up message validation: unknown field, empty prompt, unknown task', async () => {
  const unknown = await post({ prompt: 'x', extra: 1 }, '/v1/tasks/nope/messages');
  assert.equal(unknown.status, 400);
  assert.equal(unknown.body.error.field, 'extra');
  const empty = await post({ prompt: '' }, '/v1/tasks/nope/messages');
  assert.equal(empty.body.error.field, 'prompt');
  const missing = await post({ prompt: 'again' }, '/v1/tasks/nope/messages');
  assert.equal(missing.status, 404);
});

test('a cwd whose real path is in .git/, .claude/ or the data dir → 400 naming cwd; an ordinary one is accepted', async () => {
  for (const dir of ['.git/hooks', '.claude', 'docs/.claude/agents', 'plain']) {
    fs.mkdirSync(path.join(h.workspace, dir), { recursive: true });
  }
  fs.symlinkSync('.git/hooks', path.join(h.workspace, 'hooks-link'));
  fs.symlinkSync(h.dataDir, path.join(h.workspace, 'data-link'));
  for (const [cwd, message] of [
    ['.git', /inside a \.git or \.claude directory/],
    ['.git/hooks', /inside a \.git or \.claude directory/],
    ['.claude', /inside a \.git or \.claude directory/],
    ['docs/.claude/agents', /inside a \.git or \.claude directory/],
    ['hooks-link', /inside a \.git or \.claude directory/], // a link into .git/ is judged where it lands
    ['data-link', /outside the workspace roots/], // every task's transcripts and the database
  ] as const) {
    const res = await post({ prompt: 'x', cwd });
    assert.equal(res.status, 400, `${cwd}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.error.field, 'cwd');
    assert.match(res.body.error.message, message);
  }
  // Positive control: an ordinary directory of the workspace.
  const ok = await post({ prompt: 'x', cwd: 'plain' });
  assert.equal(ok.status, 201, JSON.stringify(ok.body));
  await h.fetch(`/v1/tasks/${(ok.body as unknown as { id: string }).id}/cancel`, { method: 'POST' });
});

/** loadConfig's error for `env` (started from `cwd`), or undefined when it loads. */
function configError(env: Record<string, string>, cwd: string): AppError | undefined {
  try {
    loadConfig({ SWITCHYARD_LOG_LEVEL: 'silent', ...env }, {}, cwd);
    return undefined;
  } catch (err) {
    assert.ok(err instanceof AppError, String(err));
    return err;
  }
}

test('no workspace root may hold the data dir, the server install, its workflows or Claude Code (checked at load)', () => {
  const root = tempDir();
  try {
    for (const dir of ['ws/data', 'ws2', 'data']) fs.mkdirSync(path.join(root, dir), { recursive: true });
    fs.symlinkSync(path.join(root, 'data'), path.join(root, 'data-link'));
    const cases: Array<[Record<string, string>, string, RegExp]> = [
      // The old default: the start directory as root, ./data inside it.
      [{ SWITCHYARD_WORKSPACE_ROOTS: '.' }, 'SWITCHYARD_WORKSPACE_ROOTS', /SWITCHYARD_DATA_DIR .* overlap/],
      [{ SWITCHYARD_WORKSPACE_ROOTS: 'ws', SWITCHYARD_DATA_DIR: 'ws/data' }, 'SWITCHYARD_WORKSPACE_ROOTS', /overlap/],
      [{ SWITCHYARD_WORKSPACE_ROOTS: 'data-link' }, 'SWITCHYARD_WORKSPACE_ROOTS', /overlap/], // a link to the data dir
      [{ SWITCHYARD_WORKSPACE_ROOTS: `ws2:${root}` }, 'SWITCHYARD_WORKSPACE_ROOTS', /overlap/], // any root counts
      [{ SWITCHYARD_DATA_DIR: 'workspace/db' }, 'SWITCHYARD_DATA_DIR', /overlap/], // inside the default root
      [{ SWITCHYARD_WORKSPACE_ROOTS: INSTALL_DIR }, 'SWITCHYARD_WORKSPACE_ROOTS', /Switchyard's own install/],
      [{ SWITCHYARD_WORKSPACE_ROOTS: path.dirname(INSTALL_DIR) }, 'SWITCHYARD_WORKSPACE_ROOTS', /own install/],
      [{ SWITCHYARD_WORKSPACE_ROOTS: path.join(INSTALL_DIR, 'src') }, 'SWITCHYARD_WORKSPACE_ROOTS', /own install/],
      [{ SWITCHYARD_WORKSPACE_ROOTS: 'missing' }, 'SWITCHYARD_WORKSPACE_ROOTS', /does not exist/],
      [
        { SWITCHYARD_WORKSPACE_ROOTS: 'ws2', SWITCHYARD_WORKFLOWS_DIR: 'ws2/flows' },
        'SWITCHYARD_WORKFLOWS_DIR',
        /overlap/,
      ],
      [
        { SWITCHYARD_WORKSPACE_ROOTS: 'ws2', SWITCHYARD_CLAUDE_PATH: 'ws2/claude' },
        'SWITCHYARD_CLAUDE_PATH',
        /overlap/,
      ],
    ];
    for (const [env, field, message] of cases) {
      const err = configError(env, root);
      assert.ok(err, `${JSON.stringify(env)} should be refused`);
      assert.equal(err.field, field, err.message);
      assert.match(err.message, message);
    }
    // Positive controls: roots beside the data dir, and the default configuration as `npm start` runs it
    // from the repository (./workspace beside ./data, inside the checkout but away from its code).
    assert.equal(
      configError(
        { SWITCHYARD_WORKSPACE_ROOTS: 'ws2', SWITCHYARD_DATA_DIR: 'data', SWITCHYARD_WORKFLOWS_DIR: 'flows' },
        root,
      ),
      undefined,
    );
    const defaults = loadConfig({}, {}, INSTALL_DIR);
    assert.deepEqual(defaults.workspaceRoots, [path.join(INSTALL_DIR, 'workspace')]);
    assert.equal(defaults.dataDir, path.join(INSTALL_DIR, 'data'));
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
