import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startHarness, waitForSession } from '../fixtures/harness.ts';

test('the article: POST /execute then GET /sessions/{id} completes with the response', async () => {
  const h = await startHarness();
  try {
    const res = await h.fetch('/execute', {
      method: 'POST',
      json: { prompt: 'Summarize the logs', allowed_tools: ['Read', 'Glob', 'Grep'], timeout: 120000 },
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { session_id: string; status: string };
    assert.match(body.session_id, /^[0-9a-f-]{36}$/);
    const session = await waitForSession(h, body.session_id);
    assert.equal(session.status, 'completed', JSON.stringify(session));
    assert.equal(session.response, 'Done: Summarize the logs');
  } finally {
    await h.close();
  }
});
