/**
 * Values are data: an upstream response containing `{{ inputs.secret }}` is passed on literally (never
 * rendered again), `"}, "admin": true` stays inside its JSON string in object and text bodies, and
 * `../admin?x=1&` stays one URL path segment.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { json, startScenario, startService } from '../kit.ts';

const EVIL = {
  template: '{{ inputs.secret }}',
  breakout: '"}, "admin": true, "x": "',
  path: '../admin?x=1&',
};

test('template injection attempts stay inert data', async (t) => {
  const api = await startService((req, res) => (req.path === '/evil' ? json(res, 200, EVIL) : json(res, 200, {})));
  const { wf } = await startScenario(t, import.meta.dirname, api);
  const { run } = await wf.startRun('template-injection', { secret: 'hunter2-secret' });
  const done = await wf.waitRun(run.id, 30_000);
  assert.equal(done.status, 'completed', JSON.stringify(done.error));

  const post = api.requests.find((r) => r.path.startsWith('/sink/'))!;
  assert.equal(post.path, `/sink/${encodeURIComponent(EVIL.path)}?q=${encodeURIComponent(EVIL.breakout)}`);
  const body = JSON.parse(post.body);
  assert.deepEqual(body, { note: EVIL.template, breakout: EVIL.breakout, whole: EVIL });
  assert.ok(!('admin' in body));

  const text = JSON.parse(api.requests.find((r) => r.path === '/sink-text')!.body);
  assert.deepEqual(text, { note: EVIL.breakout, n: 1 });

  assert.equal(done.steps.find((s) => s.name === 'render')?.output?.response, 'said: {{ inputs.secret }}');
  for (const r of api.requests) assert.ok(!r.body.includes('hunter2') && !r.path.includes('hunter2'));
});
