/**
 * The checkout machinery without an agent: the mirror cache under concurrent use, the start sweep,
 * git's timeout and cancel, and the SSRF guard, against the loopback git server.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { AppError } from '../../src/errors.ts';
import { parseAllowList } from '../../src/runners/ssrf.ts';
import { Checkouts } from '../../src/workspaces/checkouts.ts';
import { type GitServer, startGitServer } from '../fixtures/git-server.ts';
import { tempDir } from '../fixtures/harness.ts';
import { startService } from '../scenarios/kit.ts';

const TOKEN = 'ghs_checkoutTestToken_5b1f0c9e2d7a';
const BASIC = Buffer.from(`x-access-token:${TOKEN}`).toString('base64');

describe('checkouts without an agent', () => {
  let git: GitServer;
  let dataDir: string;
  let shas: string[];
  const logger = { info: () => {}, warn: () => {} };

  before(async () => {
    git = await startGitServer(TOKEN);
    shas = git.createRepo('acme', 'tools', [{ 'a.txt': 'a\n' }]);
    dataDir = tempDir();
  });
  after(async () => {
    await git?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const checkouts = (options: Partial<ConstructorParameters<typeof Checkouts>[0]> = {}) =>
    new Checkouts({ dataDir, httpAllow: parseAllowList('127.0.0.1'), logger, ...options });
  const request = (unit: string, url = `${git.url}/acme/tools.git`) => ({
    runId: 'run1',
    unit,
    repo: url,
    ref: 'main',
    token: TOKEN,
    field: `steps.${unit}.workspace`,
  });

  test('two steps checking out the same repo at once share one mirror, cloned once', async () => {
    const c = checkouts();
    const [a, b] = await Promise.all([c.create(request('a')), c.create(request('b'))]);
    assert.equal(a.sha, shas[0]);
    assert.equal(b.sha, shas[0]);
    assert.equal(fs.readFileSync(path.join(a.dir, 'a.txt'), 'utf8'), 'a\n');
    assert.equal(fs.readFileSync(path.join(b.dir, 'a.txt'), 'utf8'), 'a\n');
    assert.equal(fs.readdirSync(path.join(dataDir, 'git', 'mirrors')).length, 1);
    // One clone and one fetch, one after the other: two ref advertisements.
    assert.equal(git.requests.filter((r) => r.path.endsWith('/info/refs')).length, 2);
    const config = fs.readFileSync(path.join(a.dir, '.git', 'config'), 'utf8');
    assert.ok(!config.includes(TOKEN) && !config.includes(BASIC));
    assert.ok(!config.includes(dataDir), 'origin is the repository, not the mirror');
    await c.runEnded('run1', false);
    assert.equal(fs.existsSync(path.join(dataDir, 'checkouts', 'run1')), false);
  });

  test('a branch made after the mirror was cloned is fetched before the checkout', async () => {
    const c = checkouts();
    const head = git.commit('acme', 'tools', 'feature/pr-7', { 'b.txt': 'b\n' });
    const record = await c.create({ ...request('pr'), ref: 'feature/pr-7' });
    assert.equal(record.sha, head);
    assert.equal(fs.readFileSync(path.join(record.dir, 'b.txt'), 'utf8'), 'b\n');
    assert.equal(record.defaultBranch, 'main');
    await c.runEnded('run1', false);
  });

  test('at start, checkouts of runs that no longer run are removed; running and kept ones stay', async () => {
    const c = checkouts();
    for (const run of ['gone', 'running', 'kept']) fs.mkdirSync(path.join(c.root, run, 'step'), { recursive: true });
    fs.writeFileSync(path.join(c.root, 'kept', '.kept'), '');
    const removed = await c.sweep(async (id) => id === 'running');
    assert.equal(removed, 1);
    assert.deepEqual(fs.readdirSync(c.root).sort(), ['kept', 'running']);
  });

  test('git that hangs is stopped by its timeout, and by a cancel', async () => {
    const hanging = await startService(() => {}); // never answers
    try {
      const url = `${hanging.url}/acme/tools.git`;
      await assert.rejects(checkouts({ networkTimeoutMs: 300 }).create({ ...request('t', url) }), { kind: 'timeout' });
      const abort = new AbortController();
      const pending = checkouts().create({ ...request('c', url), signal: abort.signal });
      await hanging.waitFor(2);
      abort.abort();
      await assert.rejects(pending, { kind: 'cancelled' });
    } finally {
      await hanging.close();
    }
  });

  test('an internal address is refused unless SWITCHYARD_HTTP_ALLOW admits it', async () => {
    await assert.rejects(checkouts({ httpAllow: parseAllowList('') }).create(request('x')), (err: AppError) => {
      assert.equal(err.field, 'steps.x.workspace.repo');
      assert.match(err.message, /http:\/\/, which is allowed only for hosts listed in SWITCHYARD_HTTP_ALLOW/);
      return true;
    });
    const https = `https://127.0.0.1:1/acme/tools.git`;
    await assert.rejects(checkouts({ httpAllow: parseAllowList('') }).create(request('y', https)), {
      kind: 'permission_denied',
      message: /127\.0\.0\.1 is a loopback address/,
    });
  });
});
