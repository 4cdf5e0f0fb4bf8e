/**
 * SSRF from http steps: with only the host name `localhost` on the operator's allow-list, a loopback
 * literal, the metadata address and a redirect from the allowed host to a loopback literal are all
 * refused `permission_denied` — not retried, and the internal endpoint never sees a request. An llm
 * step's own `base_url` is held to the same guard (only the operator's configured endpoint is trusted).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startEngine, startService, workflowText } from '../kit.ts';

test('http and llm steps cannot reach loopback, metadata or redirect inside', async (t) => {
  const api = await startService((req, res) => {
    if (req.path === '/redirect') {
      res.writeHead(302, { location: `http://127.0.0.1:${port}/internal` }).end();
      return;
    }
    res.end('internal secrets');
  });
  const port = new URL(api.url).port;
  const h = await startEngine({ env: { SWITCHYARD_HTTP_ALLOW: 'localhost' } });
  t.after(async () => {
    await h.close();
    await api.close();
  });
  const wf = h.server.workflows;
  await wf.registerWorkflow(workflowText(import.meta.dirname, { PORT: port }));
  const { run } = await wf.startRun('ssrf', {});
  const done = await wf.waitRun(run.id, 30_000);
  assert.equal(done.status, 'failed');
  for (const step of done.steps) {
    assert.equal(step.status, 'failed', step.name);
    assert.equal(step.error?.kind, 'permission_denied', `${step.name}: ${step.error?.message}`);
    assert.equal(step.attempts, 1, `${step.name} is not retried`);
  }
  assert.match(done.steps.find((s) => s.name === 'redirect')!.error!.message, /redirected to/);
  assert.deepEqual(
    api.requests.map((r) => r.path),
    ['/redirect'],
    'only the allowed host was contacted',
  );
});
