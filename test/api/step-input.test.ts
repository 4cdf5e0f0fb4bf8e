/**
 * A step's rendered input in the run view (`steps[].input`): the last attempt's, exactly as the DLQ
 * keeps it — a secret rendered into an http header is hidden (whatever the header's name), a
 * credential header and an llm api_key show as [redacted], a plain header and inputs show as they
 * are (the positive control), and a step that has not started yet has none. Through the HTTP API.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WorkflowClient } from '../../src/client/workflow-client.ts';
import { startLlmServer } from '../fixtures/llm-server.ts';
import { json, startEngine, startService } from '../scenarios/kit.ts';

const TOKEN = 'Sy-s3cr3t-T0k3n-9Z';

test('the run view shows each step input as rendered, secrets hidden; null before the first attempt', async (t) => {
  const api = await startService((_req, res) => json(res, 200, { ok: true }));
  const llm = await startLlmServer([{ text: 'a reply' }]);
  const h = await startEngine({ env: { SWITCHYARD_SECRET_API_TOKEN: TOKEN } });
  t.after(async () => {
    await h.close();
    await api.close();
    await llm.close();
  });
  const client = new WorkflowClient({ baseUrl: h.url });
  await client.registerWorkflow(`name: shown
inputs:
  who: { type: string }
steps:
  gate:
    worker: approval
    message: "call for {{ inputs.who }}?"
  call:
    worker: http
    depends_on: [gate]
    method: POST
    url: "${api.url}/call"
    headers:
      X-Plain: "hello {{ inputs.who }}"
      X-Carrier: "{{ secrets.API_TOKEN }}"
      Authorization: "Bearer {{ secrets.API_TOKEN }}"
    body: { who: "{{ inputs.who }}" }
  ask:
    worker: llm
    depends_on: [call]
    provider: openai-compatible
    base_url: "${llm.url}/v1"
    model: test-model
    prompt: "about {{ inputs.who }}"
    api_key: "{{ secrets.API_TOKEN }}"
`);
  const run = await client.startRun('shown', { who: 'ada' });
  const waiting = await client.getRun(run.run_id);
  const before = Object.fromEntries(waiting.steps.map((s) => [s.name, s.input]));
  assert.deepEqual(before, { gate: { message: 'call for ada?' }, call: null, ask: null });

  await client.approve(run.run_id, 'gate');
  const done = await client.waitRun(run.run_id, 30_000);
  assert.equal(done.status, 'completed', JSON.stringify(done.error));
  // What was sent: the secret, in both headers.
  assert.equal(api.requests[0]?.headers['x-carrier'], TOKEN);
  assert.equal(api.requests[0]?.headers.authorization, `Bearer ${TOKEN}`);
  assert.equal(llm.requests[0]?.headers.authorization, `Bearer ${TOKEN}`);

  const call = done.steps.find((s) => s.name === 'call')?.input as { headers: Record<string, string> } | null;
  assert.ok(call, 'the http step has an input');
  assert.equal(call.headers['X-Plain'], 'hello ada', 'a plain header shows as is');
  assert.equal(call.headers['X-Carrier'], '[redacted]', 'a header carrying a secret is hidden');
  assert.equal(call.headers.Authorization, '[redacted]', 'a credential header is hidden');
  assert.deepEqual(
    { url: (call as Record<string, unknown>).url, method: (call as Record<string, unknown>).method },
    { url: `${api.url}/call`, method: 'POST' },
  );
  const ask = done.steps.find((s) => s.name === 'ask')?.input;
  assert.equal(ask?.api_key, '[redacted]');
  assert.match(String(ask?.prompt), /Task: about ada$/);
  // Nowhere in the answer, in any form.
  const text = await (await h.fetch(`/v1/runs/${run.run_id}`)).text();
  assert.ok(!text.includes('s3cr3t'), 'the run view holds no copy of the secret');
});

test('a step that fails for good shows the same input as its dead-letter entry', async (t) => {
  const api = await startService((_req, res) => json(res, 503, { down: true }));
  const h = await startEngine({ env: { SWITCHYARD_SECRET_API_TOKEN: TOKEN } });
  t.after(async () => {
    await h.close();
    await api.close();
  });
  const client = new WorkflowClient({ baseUrl: h.url });
  await client.registerWorkflow(`name: down
steps:
  call:
    worker: http
    url: "${api.url}/down"
    headers: { X-Carrier: "{{ secrets.API_TOKEN }}", X-Plain: "plain" }
    retry: { max_attempts: 2, backoff: { initial: 10 } }
`);
  const run = await client.startRun('down');
  const done = await client.waitRun(run.run_id, 30_000);
  assert.equal(done.status, 'failed');
  const step = done.steps[0]!;
  assert.equal(step.attempts, 2);
  const [entry] = (await client.listDlq()).items;
  assert.ok(entry);
  assert.deepEqual(step.input, entry.inputs);
  assert.deepEqual((step.input as { headers: unknown }).headers, { 'X-Carrier': '[redacted]', 'X-Plain': 'plain' });
});
