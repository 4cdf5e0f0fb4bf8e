/** The GitHub stand-in answers as api.github.com does for what the examples use, and the webhook sender signs as GitHub does. */
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { test } from 'node:test';
import { githubExample, githubSignature, sendGithubWebhook, startGithubStandin } from '../fixtures/github-standin.ts';
import { json, startService } from '../scenarios/kit.ts';

const TOKEN = 'ghs_standin_token';
const DIFF = 'diff --git a/x.ts b/x.ts\n--- a/x.ts\n+++ b/x.ts\n@@ -1 +1 @@\n-a\n+b\n';

test('pull requests, compares and comments, behind the token', async (t) => {
  const github = await startGithubStandin({ token: TOKEN, repo: 'acme/widgets', pulls: { 7: DIFF } });
  t.after(() => github.close());
  const get = (path: string, headers: Record<string, string> = {}) =>
    fetch(`${github.url}${path}`, { headers: { 'user-agent': 'switchyard', ...headers } });
  const bearer = { authorization: `Bearer ${TOKEN}` };
  const diffAccept = { accept: 'application/vnd.github.v3.diff' };

  const diff = await get('/repos/acme/widgets/pulls/7', { ...bearer, ...diffAccept });
  assert.equal(diff.status, 200);
  assert.match(diff.headers.get('content-type') ?? '', /vnd\.github\.v3\.diff/);
  assert.equal(await diff.text(), DIFF);

  const pr = await get('/repos/acme/widgets/pulls/7', { authorization: `token ${TOKEN}` });
  assert.equal(pr.status, 200);
  assert.equal(((await pr.json()) as { number: number }).number, 7);

  const missing = await get('/repos/acme/widgets/pulls/7', diffAccept);
  assert.equal(missing.status, 401);
  assert.equal(((await missing.json()) as { message: string }).message, 'Requires authentication');
  const wrong = await get('/repos/acme/widgets/pulls/7', { authorization: 'Bearer ghs_other', ...diffAccept });
  assert.equal(wrong.status, 401);
  assert.equal(((await wrong.json()) as { message: string }).message, 'Bad credentials');
  const noAgent = await fetch(`${github.url}/repos/acme/widgets/pulls/7`, { headers: { ...bearer, 'user-agent': '' } });
  assert.equal(noAgent.status, 403);
  await noAgent.body?.cancel();

  for (const path of ['/repos/acme/widgets/pulls/8', '/repos/other/widgets/pulls/7', '/repos/acme/widgets/nope']) {
    const res = await get(path, bearer);
    assert.equal(res.status, 404, path);
    assert.equal(((await res.json()) as { message: string }).message, 'Not Found');
  }

  github.setCompare('main', 'feature', DIFF);
  const compare = await get('/repos/acme/widgets/compare/main...feature', { ...bearer, ...diffAccept });
  assert.equal(await compare.text(), DIFF);

  const post = (body: string) =>
    fetch(`${github.url}/repos/acme/widgets/issues/7/comments`, {
      method: 'POST',
      headers: { ...bearer, 'user-agent': 'switchyard', 'content-type': 'application/json' },
      body,
    });
  const created = await post(JSON.stringify({ body: 'Looks good "}' }));
  assert.equal(created.status, 201);
  const comment = (await created.json()) as { id: number; body: string; html_url: string };
  assert.equal(comment.body, 'Looks good "}');
  assert.match(comment.html_url, /acme\/widgets\/pull\/7#issuecomment-1$/);
  assert.deepEqual(github.comments, [{ id: 1, owner: 'acme', repo: 'widgets', issue: 7, body: 'Looks good "}' }]);
  assert.equal((await post('{"text": 1}')).status, 422);
  assert.equal((await post('not json')).status, 400);

  // Every request is recorded, refused ones included, with what was sent.
  const last = github.requests.at(-3)!;
  assert.equal(last.method, 'POST');
  assert.equal(last.path, '/repos/acme/widgets/issues/7/comments');
  assert.equal(last.headers.authorization, `Bearer ${TOKEN}`);
  assert.equal(JSON.parse(last.body).body, 'Looks good "}');
  assert.equal(last.status, 201);
  assert.deepEqual(
    github.requests.slice(2, 5).map((r) => r.status),
    [401, 401, 403],
  );
});

test('a real GitHub payload is delivered signed, with the event and delivery headers', async (t) => {
  const receiver = await startService((_req, res) => json(res, 202, { ok: true }));
  t.after(() => receiver.close());
  const payload = githubExample('pull_request', 'opened');
  assert.equal(payload.action, 'opened');
  assert.equal((payload.repository as { full_name: string }).full_name, 'Codertocat/Hello-World');

  const sent = await sendGithubWebhook(`${receiver.url}/v1/hooks/review`, {
    event: 'pull_request',
    payload,
    secret: 'hook-secret',
  });
  assert.equal(sent.status, 202);
  const req = receiver.requests[0]!;
  assert.equal(req.path, '/v1/hooks/review');
  assert.equal(req.headers['x-github-event'], 'pull_request');
  assert.equal(req.headers['x-github-delivery'], sent.delivery);
  assert.deepEqual(JSON.parse(req.body), payload);
  const expected = Buffer.from(`sha256=${createHmac('sha256', 'hook-secret').update(req.body).digest('hex')}`);
  const got = Buffer.from(String(req.headers['x-hub-signature-256']));
  assert.ok(got.length === expected.length && timingSafeEqual(got, expected));
  assert.equal(githubSignature('hook-secret', req.body), String(req.headers['x-hub-signature-256']));

  // The payload is a copy: editing it leaves the next one as GitHub sent it.
  payload.number = 99;
  assert.equal(githubExample('pull_request', 'opened').number, 2);
  assert.throws(() => githubExample('pull_request', 'no-such-action'), /no pull_request\.no-such-action payload/);
});
