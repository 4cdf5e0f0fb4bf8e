/**
 * examples/docs-update, end to end from its trigger: a real `pull_request.closed` payload (merged),
 * signed, starts the run; real Claude Code (scripted model) diffs and edits docs in a checkout of the
 * merge commit fetched from a local smart-HTTP git server; the server commits only docs/ to a new branch
 * and pushes it; after the approval a PR is opened on a GitHub API stand-in.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ScriptRequest, Turn } from '../../src/model/scripted-model.ts';
import { filesContaining } from '../fixtures/files.ts';
import { startGitServer } from '../fixtures/git-server.ts';
import { githubExample, sendGithubWebhook, startGithubStandin } from '../fixtures/github-standin.ts';
import { GITHUB_TOKEN, HOOK_SECRET, registerExample, settledRun, startExampleServer } from './kit.ts';

const edit = (file_path: string, old_string: string, new_string: string): Turn => ({
  tool_use: { name: 'Edit', input: { file_path, old_string, new_string } },
});

/** The docs agent: diffs, reads the doc, edits it, reads and tries to edit code too (refused), then reports. */
function documenter(base: string): (req: ScriptRequest) => Turn {
  return (req) => {
    const turns: Turn[] = [
      { tool_use: { name: 'Bash', input: { command: `git diff ${base} HEAD`, description: 'diff' } } },
      { tool_use: { name: 'Read', input: { file_path: 'docs/api.md' } } },
      edit('docs/api.md', '`ratio(a, b)`', '`ratio(a, b)` and `clamp(x, lo, hi)`'),
      { tool_use: { name: 'Read', input: { file_path: 'src/math.js' } } },
      edit('src/math.js', 'export const clamp', '// touched\nexport const clamp'),
      { text: 'Documented clamp in docs/api.md.' },
    ];
    return turns[req.turnIndex] ?? { text: 'done' };
  };
}

type ClosedPayload = {
  repository: { name: string; owner: { login: string } };
  pull_request: {
    merged: boolean;
    merge_commit_sha: string | null;
    title: string;
    base: { ref: string; sha: string };
  };
};

test('docs-update: a merged PR ends with a docs-only branch pushed and, once approved, a PR opened', async (t) => {
  const git = await startGitServer(GITHUB_TOKEN);
  t.after(() => git.close());
  const [base, merged] = git.createRepo('octo-org', 'calc', [
    { 'src/math.js': 'export const ratio = (a, b) => a / b;\n', 'docs/api.md': '# API\n\n`ratio(a, b)`\n' },
    { 'src/math.js': 'export const ratio = (a, b) => a / b;\nexport const clamp = (x, lo, hi) => x;\n' },
  ]);
  const github = await startGithubStandin({ token: GITHUB_TOKEN, repo: 'octo-org/calc' });
  t.after(() => github.close());
  const h = await startExampleServer(t, { script: documenter(base as string) });
  await registerExample(h, 'docs-update', { 'https://api.github.com': github.url, 'https://github.com': git.url });

  const payload = githubExample('pull_request', 'closed') as ClosedPayload;
  payload.repository.owner.login = 'octo-org';
  payload.repository.name = 'calc';
  Object.assign(payload.pull_request, { merged: true, merge_commit_sha: merged, title: 'Add clamp' });
  payload.pull_request.base = { ...payload.pull_request.base, ref: 'main', sha: base as string };
  const hook = `${h.url}/v1/hooks/github-merged`;

  // Closed without merging: nothing to document, nothing starts.
  const unmerged = structuredClone(payload);
  unmerged.pull_request.merged = false;
  const skipped = await sendGithubWebhook(hook, { event: 'pull_request', payload: unmerged, secret: HOOK_SECRET });
  assert.equal(skipped.status, 200, skipped.body);
  assert.equal(JSON.parse(skipped.body).started, false);

  const delivery = await sendGithubWebhook(hook, { event: 'pull_request', payload, secret: HOOK_SECRET });
  assert.equal(delivery.status, 202, delivery.body);
  const runId = (JSON.parse(delivery.body) as { run_id: string }).run_id;
  const waiting = await settledRun(h, runId);
  assert.equal(waiting.status, 'awaiting_approval', JSON.stringify(waiting.steps.map((s) => [s.name, s.error])));

  // Pushed before the review: the docs change alone, on a new branch, on top of the merge commit.
  const data = waiting.steps.find((s) => s.name === 'update_docs')?.output?.data as {
    commit: string;
    branch: string;
    files: string[];
    skipped: string[];
  };
  assert.equal(data.branch, `docs/update-${runId}`);
  assert.deepEqual(data.files, ['docs/api.md']);
  assert.equal(git.git('octo-org', 'calc', ['rev-parse', `refs/heads/${data.branch}`]).trim(), data.commit);
  assert.equal(git.git('octo-org', 'calc', ['rev-parse', `${data.commit}^`]).trim(), merged);
  assert.deepEqual(
    git.git('octo-org', 'calc', ['diff', '--name-only', merged as string, data.commit]).trim(),
    'docs/api.md',
  );
  assert.match(git.git('octo-org', 'calc', ['show', `${data.commit}:docs/api.md`]), /clamp\(x, lo, hi\)/);
  // The agent saw the diff of the merge; its edit of src/ was refused by its rules.
  assert.match(h.model.requests[1]?.lastUserText ?? '', /clamp/);
  assert.match(h.model.requests[5]?.lastUserText ?? '', /src\/math.js" is outside the allowed scope \(docs\/\*\*\)/);
  assert.equal(github.requests.filter((r) => r.method === 'POST').length, 0, 'no PR before the approval');

  const approved = await h.fetch(`/v1/runs/${runId}/steps/review/approve`, {
    method: 'POST',
    json: { comment: 'looks right' },
  });
  assert.equal(approved.status, 200, await approved.text());
  const done = await h.server.workflows.waitRun(runId, 60_000);
  assert.equal(done.status, 'completed', JSON.stringify(done.steps.map((s) => [s.name, s.error])));
  assert.deepEqual(
    github.opened.map((p) => [p.owner, p.repo, p.head, p.base]),
    [['octo-org', 'calc', data.branch, 'main']],
    'the PR was opened once, from the docs branch into the merged one',
  );
  assert.deepEqual(filesContaining(h.dataDir, [GITHUB_TOKEN, HOOK_SECRET]), []);
});
