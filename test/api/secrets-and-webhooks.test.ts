import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { SwitchyardClient } from '../../src/client/client.ts';
import { startServer } from '../../src/main.ts';
import { startHarness } from '../fixtures/harness.ts';
import { queryDatabase } from '../fixtures/test-backend.ts';

const SECRET = `whsec_${Buffer.from('switchyard-test-webhook-secret!').toString('base64')}`;

async function receiver(statuses: number[]) {
  const received: Array<{ headers: http.IncomingHttpHeaders; body: string }> = [];
  let notify: () => void = () => {};
  const server = http.createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    received.push({ headers: req.headers, body });
    res.writeHead(statuses[received.length - 1] ?? 200).end();
    notify();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    received,
    async waitFor(n: number) {
      while (received.length < n) await new Promise<void>((r) => (notify = r));
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

test('terminal states are POSTed to webhook_url, signed (Standard Webhooks), retried after a failure', async () => {
  const hook = await receiver([500, 200]);
  const h = await startHarness({ env: { SWITCHYARD_WEBHOOK_SECRET: SECRET, SWITCHYARD_HTTP_ALLOW: '127.0.0.1' } });
  try {
    const client = new SwitchyardClient({ baseUrl: h.url });
    const t = await client.submit({ prompt: 'notify me', webhook_url: hook.url });
    await hook.waitFor(2);
    const [first, second] = hook.received;
    assert.equal(first!.body, second!.body);
    assert.notEqual(first!.headers['webhook-timestamp'], undefined);
    const payload = new Webhook(SECRET).verify(second!.body, second!.headers as Record<string, string>) as {
      type: string;
      data: { session_id: string; status: string; response: string };
    };
    assert.equal(payload.type, 'task.completed');
    assert.equal(payload.data.session_id, t.id);
    assert.equal(payload.data.response, 'Done: notify me');
    assert.throws(() =>
      new Webhook(`whsec_${Buffer.from('another-secret-entirely!').toString('base64')}`).verify(
        second!.body,
        second!.headers as Record<string, string>,
      ),
    );
  } finally {
    await h.close();
    await hook.close();
  }
});

test('a webhook to a loopback address is refused by the SSRF guard unless the operator allows it', async () => {
  const hook = await receiver([]);
  const h = await startHarness({ env: { SWITCHYARD_WEBHOOK_SECRET: SECRET } });
  try {
    const client = new SwitchyardClient({ baseUrl: h.url });
    const t = await client.submit({ prompt: 'x', webhook_url: hook.url });
    await client.wait(t.id);
    // Read the delivery's record until its first attempt is written: it must be a refusal.
    let row: { attempts: number; last_error: string | null } | undefined;
    for (let i = 0; i < 200 && !row?.attempts; i++) {
      [row] = await queryDatabase<NonNullable<typeof row>>(
        h.config,
        'SELECT attempts, last_error FROM webhook_deliveries',
      );
      if (!row?.attempts) await new Promise((r) => setTimeout(r, 25));
    }
    assert.equal(row?.attempts, 1);
    assert.match(row?.last_error ?? '', /127\.0\.0\.1.*SWITCHYARD_HTTP_ALLOW|loopback/);
    assert.equal(hook.received.length, 0);
  } finally {
    await h.close();
    await hook.close();
  }
});

test('the agent never holds the real model key: its Bash sees a per-task token the proxy swaps', async () => {
  const key = 'sk-ant-test-key-not-secret';
  const h = await startHarness({
    script: (req) => (req.turnIndex === 0 ? { tool_use: { name: 'Bash', input: { command: 'env' } } } : { text: 'ok' }),
  });
  try {
    const client = new SwitchyardClient({ baseUrl: h.url });
    const done = await client.wait((await client.submit({ prompt: 'x', allowed_tools: ['Bash(env)'] })).id);
    assert.equal(done.status, 'completed');
    // What Bash printed reached the model as the tool result: the real key is not in it.
    const toolOutput = h.model.requests.at(-1)!.lastUserText;
    assert.match(toolOutput, /ANTHROPIC_API_KEY=sy-task-/);
    assert.ok(!toolOutput.includes(key));
    // Yet the model server got the real key on every request, put there by the proxy.
    for (const r of h.model.requests) assert.equal(r.headers['x-api-key'], key);
    // After the task, its token is revoked.
    const token = /ANTHROPIC_API_KEY=(sy-task-\S+)/.exec(toolOutput)![1]!;
    // Replayed where the agent would send it: the model proxy's socket (sandbox) or loopback port.
    const base = /ANTHROPIC_BASE_URL=(\S+)/.exec(toolOutput)![1]!;
    const replay = await new Promise<number>((resolve, reject) => {
      const target = h.server.sandbox.active
        ? { socketPath: path.join(h.dataDir, 'sandbox', 'model.sock') }
        : { host: new URL(base).hostname, port: new URL(base).port };
      const req = http.request({ ...target, method: 'POST', path: '/v1/messages', headers: { 'x-api-key': token } });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end('{}');
    });
    assert.equal(replay, 401);
  } finally {
    await h.close();
  }
});

function eventOf<T>(body: string): T {
  return JSON.parse(body) as T;
}

test('a queued task that is cancelled still gets its webhook', { timeout: 20_000 }, async () => {
  const hook = await receiver([]);
  const h = await startHarness({
    script: (req) => (req.prompt === 'block' ? { hang: true } : { text: 'ok' }),
    env: { SWITCHYARD_WEBHOOK_SECRET: SECRET, SWITCHYARD_HTTP_ALLOW: '127.0.0.1', SWITCHYARD_CONCURRENCY: '1' },
  });
  try {
    const client = new SwitchyardClient({ baseUrl: h.url });
    const blocker = await client.submit({ prompt: 'block', timeout: 60_000 });
    const queued = await client.submit({ prompt: 'queued', webhook_url: hook.url });
    assert.equal((await client.cancel(queued.id)).status, 'failed');
    await hook.waitFor(1);
    const payload = eventOf<{ type: string; data: { session_id: string; error: { kind: string } } }>(
      hook.received[0]!.body,
    );
    assert.equal(payload.type, 'task.failed');
    assert.equal(payload.data.session_id, queued.id);
    assert.equal(payload.data.error.kind, 'cancelled');
    await client.cancel(blocker.id);
  } finally {
    await h.close();
    await hook.close();
  }
});

test('a task interrupted by a stop is reported at the next start: a terminal event and its webhook', {
  timeout: 20_000,
}, async () => {
  const hook = await receiver([]);
  const h = await startHarness({
    script: () => ({ hang: true }),
    env: { SWITCHYARD_WEBHOOK_SECRET: SECRET, SWITCHYARD_HTTP_ALLOW: '127.0.0.1' },
  });
  let restarted: Awaited<ReturnType<typeof startServer>> | undefined;
  try {
    const client = new SwitchyardClient({ baseUrl: h.url });
    const t = await client.submit({ prompt: 'long', timeout: 60_000, webhook_url: hook.url });
    for await (const e of client.events(t.id)) if (e.type === 'system') break;
    // A stop whose grace runs out leaves the task `running` in the store, as a crash does.
    await h.server.close(0);
    restarted = await startServer(h.config);
    const again = new SwitchyardClient({ baseUrl: restarted.url });
    // SQLite recovers at start; on PostgreSQL the stopped worker handed its job back, and the new one
    // takes it up a moment later and ends the task (docs/cluster.md, Tasks).
    const done = await again.wait(t.id, 10_000);
    assert.equal(done.error?.kind, 'interrupted');
    const events = [];
    for await (const e of again.events(t.id)) events.push(e);
    const last = events.at(-1)!;
    assert.equal(last.type, 'status');
    assert.deepEqual((last.data as { status: string }).status, 'failed');
    await hook.waitFor(1);
    const payload = eventOf<{ type: string; data: { session_id: string; error: { kind: string } } }>(
      hook.received[0]!.body,
    );
    assert.equal(payload.type, 'task.failed');
    assert.equal(payload.data.session_id, t.id);
    assert.equal(payload.data.error.kind, 'interrupted');
  } finally {
    await restarted?.close(2000);
    await h.close();
    await hook.close();
  }
});
