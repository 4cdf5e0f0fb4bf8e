/**
 * A pending review announces itself: an approval step with `notify` POSTs a signed `approval.pending`
 * webhook when it starts waiting (queued with the wait, so a restart neither loses nor repeats it),
 * and every approval step puts the same data on the run's event stream. A `timeout` is a deadline:
 * nobody deciding by then rejects the step, also when the server was down as it passed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { WorkflowClient } from '../../src/client/workflow-client.ts';
import { type RunningServer, startServer } from '../../src/main.ts';
import type { ApprovalNotice } from '../../src/workflow/approval-notice.ts';
import { type Harness, startHarness } from '../fixtures/harness.ts';
import { queryDatabase } from '../fixtures/test-backend.ts';
import { json, startEngine, startService } from '../scenarios/kit.ts';

const SECRET = `whsec_${Buffer.from('switchyard-test-approval-secret!').toString('base64')}`;
const MODEL_KEY = 'sk-ant-test-key-not-secret';

function reviewWorkflow(notify: string | undefined, timeout?: number): string {
  return [
    'name: reviewed',
    'inputs:',
    '  title: { type: string }',
    'steps:',
    '  draft:',
    '    worker: transform',
    '    template: "Draft: {{ inputs.title }}"',
    '  review:',
    '    worker: approval',
    '    depends_on: [draft]',
    `    message: 'Publish "{{ draft.response }}"?'`,
    ...(notify === undefined ? [] : [`    notify: ${JSON.stringify(notify)}`]),
    ...(timeout === undefined ? [] : [`    timeout: ${timeout}`]),
    '  publish:',
    '    worker: transform',
    '    depends_on: [review]',
    '    template: "published ({{ review.response }})"',
  ].join('\n');
}

interface Pending {
  type: string;
  timestamp: string;
  data: ApprovalNotice;
}

function deliveries(h: Harness): Promise<Array<{ attempts: number; last_error: string | null; task_id: string }>> {
  return queryDatabase(h.config, 'SELECT task_id, attempts, last_error FROM webhook_deliveries');
}

test('a waiting approval POSTs a signed approval.pending webhook and streams approval_pending; its paths decide it', {
  timeout: 30_000,
}, async () => {
  const hook = await startService((_req, res) => json(res, 200, {}));
  const h = await startEngine({ env: { SWITCHYARD_WEBHOOK_SECRET: SECRET } });
  try {
    const wf = h.server.workflows;
    await wf.registerWorkflow(reviewWorkflow(`${hook.url}/reviews?team=docs`, 3_600_000));
    // Attacker-written text: quotes that would close JSON, a template that must stay text, the model key.
    const title = `Rates "}, "approve_path": "/evil" {{ inputs.title }} ${MODEL_KEY}`;
    const { run } = await wf.startRun('reviewed', { title });
    assert.equal(run.status, 'awaiting_approval');

    await hook.waitFor(1);
    const request = hook.requests[0]!;
    assert.equal(request.method, 'POST');
    assert.equal(request.path, '/reviews?team=docs');
    const payload = new Webhook(SECRET).verify(request.body, request.headers as Record<string, string>) as Pending;
    assert.equal(payload.type, 'approval.pending');
    const notice = payload.data;
    assert.equal(notice.run_id, run.id);
    assert.equal(notice.workflow, 'reviewed');
    assert.equal(notice.step, 'review');
    assert.equal(notice.approve_path, `/v1/runs/${run.id}/steps/review/approve`);
    assert.equal(notice.reject_path, `/v1/runs/${run.id}/steps/review/reject`);
    assert.ok(notice.message.startsWith('Publish "Draft: Rates "}, "approve_path": "/evil" {{ inputs.title }} '));
    assert.ok(!notice.message.includes(MODEL_KEY), 'secrets are redacted from the notice');
    const started = (await wf.getRun(run.id)).steps.find((s) => s.name === 'review')!.started_at!;
    assert.equal(notice.deadline, new Date(Date.parse(started) + 3_600_000).toISOString());

    // The same data on the run's event stream, over real SSE.
    const client = new WorkflowClient({ baseUrl: h.url });
    let streamed: unknown;
    for await (const e of client.runEvents(run.id)) {
      if (e.type !== 'approval_pending') continue;
      streamed = e.data;
      break;
    }
    assert.deepEqual(streamed, notice);

    // A reviewer acts on the notice: POST the path it names.
    const res = await h.fetch(notice.approve_path, { method: 'POST', json: { comment: 'ship it' } });
    assert.equal(res.status, 200);
    const done = await wf.waitRun(run.id, 10_000);
    assert.equal(done.status, 'completed');
    assert.equal(done.steps.at(-1)?.output?.response, 'published (ship it)');
    assert.equal(hook.requests.length, 1, 'one notice per wait');

    // A step without notify still streams approval_pending, and queues no webhook.
    await wf.registerWorkflow(reviewWorkflow(undefined).replace('name: reviewed', 'name: quiet'));
    const quiet = (await wf.startRun('quiet', { title: 'x' })).run;
    const events = await wf.runEvents(quiet.id, 0);
    assert.ok(events.some((e) => e.type === 'approval_pending' && (e.data as ApprovalNotice).deadline === null));
    assert.equal((await deliveries(h)).length, 1);
  } finally {
    await h.close();
    await hook.close();
  }
});

test('the notice is durable: a delivery that failed before a restart is sent after it', {
  timeout: 30_000,
}, async () => {
  let calls = 0;
  const hook = await startService((_req, res) => json(res, ++calls === 1 ? 503 : 200, {}));
  const h = await startEngine({ env: { SWITCHYARD_WEBHOOK_SECRET: SECRET } });
  let restarted: RunningServer | undefined;
  try {
    await h.server.workflows.registerWorkflow(reviewWorkflow(`${hook.url}/hook`));
    const { run } = await h.server.workflows.startRun('reviewed', { title: 'Rates' });
    await hook.waitFor(1);
    await h.server.close();
    restarted = await startServer(h.config);
    await hook.waitFor(2);
    assert.equal(hook.requests[1]!.body, hook.requests[0]!.body);
    const payload = new Webhook(SECRET).verify(
      hook.requests[1]!.body,
      hook.requests[1]!.headers as Record<string, string>,
    ) as Pending;
    assert.equal(payload.data.run_id, run.id);
    // The resumed wait announces nothing again, and still takes a decision.
    await restarted.workflows.decideApproval(run.id, 'review', { approved: false, comment: 'no' });
    assert.equal((await restarted.workflows.getRun(run.id)).status, 'failed');
    assert.equal(hook.requests.length, 2);
    assert.equal((await deliveries(h)).length, 1);
  } finally {
    await restarted?.close(2000);
    await h.close();
    await hook.close();
  }
});

test('a deadline rejects the approval; a server started after the deadline rejects it at once', {
  timeout: 30_000,
}, async () => {
  const h = await startEngine();
  let restarted: RunningServer | undefined;
  try {
    const wf = h.server.workflows;
    await wf.registerWorkflow(reviewWorkflow(undefined, 1000));
    const first = (await wf.startRun('reviewed', { title: 'a' })).run;
    const expired = await wf.waitRun(first.id, 15_000);
    assert.equal(expired.status, 'failed');
    assert.equal(expired.error?.kind, 'permission_denied');
    assert.match(expired.error?.message ?? '', /step "review" failed: rejected: no decision before the deadline/);
    assert.equal(expired.steps.at(-1)?.status, 'skipped');
    assert.equal((await wf.listDlq({ limit: 10 })).items.length, 0, 'a rejection is not a dead letter');
    const decision = (await wf.runEvents(first.id, 0)).find((e) => e.type === 'approval');
    assert.deepEqual(decision?.data, {
      step: 'review',
      approved: false,
      comment: 'no decision before the deadline',
      deadline: true,
    });

    // Down while the deadline passes.
    const second = (await wf.startRun('reviewed', { title: 'b' })).run;
    const pending = (await wf.runEvents(second.id, 0)).find((e) => e.type === 'approval_pending');
    assert.ok(pending, 'an approval_pending event');
    const deadline = Date.parse((pending.data as ApprovalNotice).deadline!);
    await h.server.close();
    const [stored] = await queryDatabase<{ status: string }>(
      h.config,
      'SELECT status FROM workflow_runs WHERE id = ?',
      [second.id],
    );
    assert.equal(stored?.status, 'awaiting_approval', 'the server stopped before the deadline');
    // Wait for the stored deadline itself to pass (not a guessed sleep).
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, deadline - Date.now()) + 20));
    restarted = await startServer(h.config);
    const late = await restarted.workflows.waitRun(second.id, 15_000);
    assert.equal(late.status, 'failed');
    assert.equal(late.error?.kind, 'permission_denied');
    assert.match(late.error?.message ?? '', /no decision before the deadline/);
  } finally {
    await restarted?.close(2000);
    await h.close();
  }
});

test('notify is checked at registration: a literal http(s) URL, a signing secret, no refused address', async () => {
  const unsigned = await startEngine();
  const h = await startEngine({ env: { SWITCHYARD_WEBHOOK_SECRET: SECRET } });
  try {
    const field = 'steps.review.notify';
    await assert.rejects(unsigned.server.workflows.registerWorkflow(reviewWorkflow('https://reviews.example/hook')), {
      kind: 'validation',
      field,
      message: /SWITCHYARD_WEBHOOK_SECRET/,
    });
    for (const [url, rule] of [
      ['https://reviews.example/{{ inputs.title }}', /no templates/],
      ['file:///etc/passwd', /http or https/],
      ['https://user:pw@reviews.example/hook', /user:password/],
      ['not a url', /http or https/],
      ['http://169.254.169.254/latest/meta-data', /169\.254\.169\.254 is link-local.*SWITCHYARD_HTTP_ALLOW/],
      ['http://[::ffff:10.0.0.1]/hook', /is a private address/],
    ] as const) {
      await assert.rejects(h.server.workflows.registerWorkflow(reviewWorkflow(url)), (err: Error) => {
        assert.equal((err as { field?: string }).field, field, url);
        assert.match(err.message, rule, url);
        return true;
      });
    }
    // Over HTTP it is a 400 naming the field.
    const res = await h.fetch('/v1/workflows', {
      method: 'POST',
      headers: { 'content-type': 'application/yaml' },
      body: reviewWorkflow('ftp://reviews.example/hook'),
    });
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { error: { field: string } }).error.field, field);
  } finally {
    await unsigned.close();
    await h.close();
  }
});

test('a notify URL the SSRF guard refuses is never called, and the wait goes on', { timeout: 30_000 }, async () => {
  const hook = await startService((_req, res) => json(res, 200, {}));
  // No SWITCHYARD_HTTP_ALLOW: a host name that resolves to loopback passes registration, not delivery.
  const h = await startHarness({ env: { SWITCHYARD_WEBHOOK_SECRET: SECRET } });
  try {
    const wf = h.server.workflows;
    await wf.registerWorkflow(reviewWorkflow(`${hook.url.replace('127.0.0.1', 'localhost')}/hook`));
    const { run } = await wf.startRun('reviewed', { title: 'Rates' });
    let row = (await deliveries(h))[0];
    for (let i = 0; i < 400 && !row?.attempts; i++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      row = (await deliveries(h))[0];
    }
    assert.equal(row?.task_id, run.id);
    assert.equal(row?.attempts, 1);
    assert.match(row?.last_error ?? '', /loopback|SWITCHYARD_HTTP_ALLOW/);
    assert.equal(hook.requests.length, 0);
    await wf.decideApproval(run.id, 'review', { approved: true });
    assert.equal((await wf.waitRun(run.id, 10_000)).status, 'completed');
  } finally {
    await h.close();
    await hook.close();
  }
});
