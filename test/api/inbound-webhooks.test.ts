/**
 * Inbound webhooks against a real server: real GitHub payloads (@octokit/webhooks-examples) signed the way
 * GitHub signs them, Standard Webhooks signed by the spec's library, and the attacks a public endpoint
 * gets (bad and missing signatures, replays, oversized and hostile bodies, path tricks around the API key).
 * Workflows are transform-only, so every run ends in milliseconds without a model.
 */
import assert from 'node:assert/strict';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import { createRequire } from 'node:module';
import { after, before, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { loadConfig } from '../../src/config.ts';
import type { AppError } from '../../src/errors.ts';
import { SecretStore } from '../../src/secrets/secret-store.ts';
import { WebhookTriggers } from '../../src/triggers/webhook-triggers.ts';
import { type Harness, startHarness } from '../fixtures/harness.ts';

const KEY = 'test-key-0123456789abcdef';
const GH_SECRET = 'gh-hook-secret-not-a-real-one';
const STD_SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const MAX_BODY = 256 * 1024;

const PR_WORKFLOW = `name: pr-review
inputs:
  repo: { type: string }
  pr: { type: integer }
  sha: { type: string }
  title: { type: string, default: "" }
steps:
  note:
    worker: transform
    template: "{{ inputs.repo }}#{{ inputs.pr }} {{ inputs.title }}"
triggers:
  - webhook:
      name: github-pr
      provider: github
      secret: "{{ secrets.GH_WEBHOOK_SECRET }}"
      events: [pull_request.opened, pull_request.synchronize]
      inputs:
        repo: "{{ body.repository.full_name }}"
        pr: "{{ body.pull_request.number }}"
        sha: "{{ body.pull_request.head.sha }}"
        title: "{{ body.pull_request.title }}"
`;

const PUSH_WORKFLOW = `name: on-push
inputs:
  ref: { type: string }
  after: { type: string }
  event: { type: string }
  delivery: { type: string }
steps:
  note:
    worker: transform
    template: "{{ inputs.event }} {{ inputs.ref }}"
triggers:
  - webhook:
      name: github-push
      provider: github
      secret: "{{ secrets.GH_WEBHOOK_SECRET }}"
      events: [push]
      inputs:
        ref: "{{ body.ref }}"
        after: "{{ body.after }}"
        event: "{{ event }}"
        delivery: "{{ delivery }}"
`;

/** Only merged pull requests: a `when` condition over the body. */
const MERGED_WORKFLOW = `name: on-merge
inputs:
  sha: { type: string }
steps:
  note:
    worker: transform
    template: "merged {{ inputs.sha }}"
triggers:
  - webhook:
      name: github-merged
      provider: github
      secret: "{{ secrets.GH_WEBHOOK_SECRET }}"
      events: [pull_request.closed]
      when: "{{ body.pull_request.merged }}"
      inputs:
        sha: "{{ body.pull_request.merge_commit_sha }}"
`;

/** No event filter, and an input that takes the whole payload: what hostile bodies are tried against. */
const ANY_WORKFLOW = `name: any-event
inputs:
  event: { type: string }
  title: { type: string }
  payload: { type: object }
steps:
  echo:
    worker: transform
    template: "{{ inputs.title }}"
triggers:
  - webhook:
      name: github-any
      provider: github
      secret: "{{ secrets.GH_WEBHOOK_SECRET }}"
      inputs:
        event: "{{ event }}"
        title: "{{ body.title }}"
        payload: "{{ body }}"
`;

const STANDARD_WORKFLOW = `name: billing
inputs:
  kind: { type: string }
  amount: { type: number }
steps:
  note:
    worker: transform
    template: "{{ inputs.kind }} {{ inputs.amount }}"
triggers:
  - webhook:
      name: billing
      provider: standard
      secret: "{{ secrets.STD_HOOK_SECRET }}"
      events: [invoice]
      inputs:
        kind: "{{ event }}"
        amount: "{{ body.data.amount }}"
`;

// biome-ignore lint/suspicious/noExplicitAny: answers are JSON, read loosely by the assertions
type Json = Record<string, any>;

// The package is one JSON file (api.github.com/index.json): GitHub's documented example payloads.
const examples = createRequire(import.meta.url)('@octokit/webhooks-examples') as Array<{
  name: string;
  examples: Json[];
}>;

function example(name: string, action?: string): Json {
  const hook = examples.find((e) => e.name === name);
  const found = hook?.examples.find((e) => action === undefined || e.action === action);
  assert.ok(found, `@octokit/webhooks-examples has ${name} ${action ?? ''}`);
  return found;
}

const sign = (body: string | Buffer, secret = GH_SECRET) =>
  `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

let h: Harness;
const authorization = `Bearer ${KEY}`;

before(async () => {
  h = await startHarness({
    env: {
      SWITCHYARD_API_KEYS: KEY,
      SWITCHYARD_SECRET_GH_WEBHOOK_SECRET: GH_SECRET,
      SWITCHYARD_SECRET_STD_HOOK_SECRET: STD_SECRET,
      SWITCHYARD_MAX_HOOK_BODY_BYTES: String(MAX_BODY),
    },
  });
  for (const wf of [PR_WORKFLOW, PUSH_WORKFLOW, MERGED_WORKFLOW, ANY_WORKFLOW, STANDARD_WORKFLOW]) {
    const res = await register(wf);
    assert.equal(res.status, 201, await res.text());
  }
});

after(async () => {
  await h?.close();
});

function register(text: string) {
  return h.fetch('/v1/workflows', {
    method: 'POST',
    body: text,
    headers: { authorization, 'content-type': 'application/yaml' },
  });
}

/** A GitHub delivery, signed unless `signature` says otherwise; no API key. */
function deliverGithub(
  hook: string,
  event: string,
  payload: unknown,
  options: { delivery?: string; signature?: string | null; body?: string; contentType?: string } = {},
) {
  const body = options.body ?? JSON.stringify(payload);
  const headers: Record<string, string> = {
    'content-type': options.contentType ?? 'application/json',
    'x-github-event': event,
    'x-github-delivery': options.delivery ?? randomUUID(),
    'user-agent': 'GitHub-Hookshot/test',
  };
  const signature = options.signature === undefined ? sign(body) : options.signature;
  if (signature !== null) headers['x-hub-signature-256'] = signature;
  return h.fetch(`/v1/hooks/${hook}`, { method: 'POST', body, headers });
}

function deliverStandard(payload: unknown, options: { id?: string; at?: Date; secret?: string } = {}) {
  const body = JSON.stringify(payload);
  const id = options.id ?? `msg_${randomUUID()}`;
  const at = options.at ?? new Date();
  const signature = new Webhook(options.secret ?? STD_SECRET).sign(id, at, body);
  return h.fetch('/v1/hooks/billing', {
    method: 'POST',
    body,
    headers: {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': signature,
    },
  });
}

async function json(res: Response, status: number): Promise<Json> {
  const body = (await res.json()) as Json;
  assert.equal(res.status, status, JSON.stringify(body));
  return body;
}

async function waitRun(id: string): Promise<Json> {
  return json(await h.fetch(`/v1/runs/${id}?wait=30`, { headers: { authorization } }), 200);
}

async function runCount(workflow: string): Promise<number> {
  const page = await json(
    await h.fetch(`/v1/runs?workflow=${workflow}&limit=200`, { headers: { authorization } }),
    200,
  );
  return page.items.length;
}

test('GitHub pull_request.opened and .synchronize (real payloads) start runs with inputs from the body', async () => {
  const opened = example('pull_request', 'opened');
  const started = await json(await deliverGithub('github-pr', 'pull_request', opened), 202);
  assert.equal(started.started, true);
  assert.equal(started.workflow, 'pr-review');
  assert.equal(started.event, 'pull_request.opened');
  const run = await waitRun(started.run_id);
  assert.equal(run.status, 'completed', JSON.stringify(run));
  assert.deepEqual(run.inputs, {
    repo: opened.repository.full_name,
    pr: opened.pull_request.number, // a whole-string {{ expr }} keeps its type: a number, as the schema asks
    sha: opened.pull_request.head.sha,
    title: opened.pull_request.title,
  });
  assert.equal(typeof run.inputs.pr, 'number');
  assert.deepEqual(run.trigger, {
    kind: 'webhook',
    name: 'github-pr',
    delivery: started.delivery,
    event: 'pull_request.opened',
  });
  assert.equal(
    run.steps[0].output.response,
    `${opened.repository.full_name}#${opened.pull_request.number} ${opened.pull_request.title}`,
  );

  const sync = example('pull_request', 'synchronize');
  const second = await json(await deliverGithub('github-pr', 'pull_request', sync), 202);
  assert.equal(second.event, 'pull_request.synchronize');
  assert.equal((await waitRun(second.run_id)).inputs.sha, sync.pull_request.head.sha);
});

test('GitHub push starts a run; event and delivery are in the template scope', async () => {
  const push = example('push');
  const delivery = randomUUID();
  const started = await json(await deliverGithub('github-push', 'push', push, { delivery }), 202);
  const run = await waitRun(started.run_id);
  assert.equal(run.status, 'completed');
  assert.deepEqual(run.inputs, { ref: push.ref, after: push.after, event: 'push', delivery });
});

test('ping and events outside the filter answer 200 and start nothing', async () => {
  const before = await runCount('pr-review');
  const ping = await json(await deliverGithub('github-pr', 'ping', example('ping')), 200);
  assert.equal(ping.started, false);
  assert.match(ping.reason, /ping/);
  const closed = await json(await deliverGithub('github-pr', 'pull_request', example('pull_request', 'closed')), 200);
  assert.equal(closed.started, false);
  assert.equal(
    closed.reason,
    "event pull_request.closed is not in the hook's events: pull_request.opened, pull_request.synchronize",
  );
  const push = await json(await deliverGithub('github-pr', 'push', example('push')), 200);
  assert.match(push.reason, /^event push is not in/);
  assert.equal(await runCount('pr-review'), before);
});

test('`when` starts a run only when it is true; otherwise 200 with the reason', async () => {
  const closed = example('pull_request', 'closed');
  const unmerged = structuredClone(closed);
  unmerged.pull_request.merged = false;
  const skipped = await json(await deliverGithub('github-merged', 'pull_request', unmerged), 200);
  assert.equal(skipped.started, false);
  assert.equal(skipped.reason, 'when {{ body.pull_request.merged }} is not true for this delivery: nothing to do');
  // A string "true" from a hostile body is not the boolean true.
  const stringy = structuredClone(closed);
  stringy.pull_request.merged = 'true';
  assert.equal((await json(await deliverGithub('github-merged', 'pull_request', stringy), 200)).started, false);
  assert.equal(await runCount('on-merge'), 0);

  const merged = structuredClone(closed);
  Object.assign(merged.pull_request, { merged: true, merge_commit_sha: 'a'.repeat(40) });
  const started = await json(await deliverGithub('github-merged', 'pull_request', merged), 202);
  assert.equal((await waitRun(started.run_id)).inputs.sha, 'a'.repeat(40));

  for (const [when, rule] of [
    ['merged', /must be one \{\{ expression \}\}/],
    ['{{ inputs.sha }}', /can read only body, event, delivery/],
  ] as const) {
    const res = await register(
      MERGED_WORKFLOW.replace('name: on-merge', 'name: on-merge-2')
        .replace('github-merged', 'merged-2')
        .replace('{{ body.pull_request.merged }}', when),
    );
    const body = await json(res, 400);
    assert.equal(body.error.field, 'triggers[0].webhook.when');
    assert.match(body.error.message, rule);
  }
});

test('bad, missing, malformed or foreign signatures are 401 and start nothing', async () => {
  const before = await runCount('pr-review');
  const opened = example('pull_request', 'opened');
  const body = JSON.stringify(opened);
  const cases: Array<[string, string | null]> = [
    ['missing', null],
    ['wrong secret', sign(body, 'another-secret')],
    ['another body', sign(`${body} `)],
    ['sha1 form', `sha1=${createHmac('sha1', GH_SECRET).update(body).digest('hex')}`],
    ['truncated', sign(body).slice(0, -2)],
    ['not hex', `sha256=${'z'.repeat(64)}`],
    ['empty', ''],
  ];
  for (const [what, signature] of cases) {
    const res = await deliverGithub('github-pr', 'pull_request', opened, { signature });
    const err = await json(res, 401);
    assert.equal(err.error.kind, 'unauthorized', what);
  }
  // A good signature over the body, but the body changed in flight.
  const tampered = await deliverGithub('github-pr', 'pull_request', null, {
    body: body.replace(opened.repository.full_name, 'evil/repo'),
    signature: sign(body),
  });
  await json(tampered, 401);
  assert.equal(await runCount('pr-review'), before);
});

test('a repeated delivery id starts nothing and answers with the original run, also when sent at once', async () => {
  const opened = example('pull_request', 'opened');
  const delivery = randomUUID();
  const first = await json(await deliverGithub('github-pr', 'pull_request', opened, { delivery }), 202);
  const count = await runCount('pr-review');
  const again = await json(await deliverGithub('github-pr', 'pull_request', opened, { delivery }), 200);
  assert.deepEqual([again.started, again.duplicate, again.run_id], [false, true, first.run_id]);
  assert.equal(await runCount('pr-review'), count);

  // Five copies of a new delivery at once: one run, every answer names it.
  const burst = randomUUID();
  const answers = await Promise.all(
    Array.from({ length: 5 }, () => deliverGithub('github-pr', 'pull_request', opened, { delivery: burst })),
  );
  const bodies = await Promise.all(answers.map((r) => r.json() as Promise<Json>));
  assert.deepEqual(answers.map((r) => r.status).sort(), [200, 200, 200, 200, 202]);
  assert.equal(new Set(bodies.map((b) => b.run_id)).size, 1);
  assert.equal(await runCount('pr-review'), count + 1);

  // The same delivery id on another hook is another delivery.
  await json(await deliverGithub('github-push', 'push', example('push'), { delivery }), 202);
});

test('oversized bodies are 413; non-JSON or form bodies after a good signature are 400', async () => {
  const big = JSON.stringify({ action: 'opened', pad: 'x'.repeat(MAX_BODY) });
  const tooBig = await deliverGithub('github-pr', 'pull_request', null, { body: big });
  assert.equal((await json(tooBig, 413)).error.kind, 'payload_too_large');
  const notJson = await deliverGithub('github-pr', 'pull_request', null, { body: 'not json {' });
  assert.equal((await json(notJson, 400)).error.field, 'body');
  const form = await deliverGithub('github-pr', 'pull_request', null, {
    body: `payload=${encodeURIComponent('{}')}`,
    contentType: 'application/x-www-form-urlencoded',
  });
  assert.equal((await json(form, 400)).error.field, 'Content-Type');
  // Nesting beyond the bound every JSON body has.
  const deep = await deliverGithub('github-any', 'issues', null, { body: `${'['.repeat(100)}${']'.repeat(100)}` });
  assert.equal((await json(deep, 400)).error.field, 'body');
  const noDelivery = await h.fetch('/v1/hooks/github-pr', {
    method: 'POST',
    body: '{}',
    headers: { 'x-github-event': 'pull_request', 'x-hub-signature-256': sign('{}') },
  });
  assert.equal((await json(noDelivery, 400)).error.field, 'X-GitHub-Delivery');
  assert.equal(loadConfig({}).maxHookBodyBytes, 5 * 1024 * 1024);
});

test('inputs that do not render or do not validate are 400 naming the input, and start nothing', async () => {
  const before = await runCount('pr-review');
  // pull_request.opened without a pull_request: strict variables refuse the missing value.
  const missing = await deliverGithub('github-pr', 'pull_request', {
    action: 'opened',
    repository: { full_name: 'a/b' },
  });
  const err = await json(missing, 400);
  assert.equal(err.error.field, 'inputs.pr');
  const opened = example('pull_request', 'opened');
  const wrongType = { ...opened, pull_request: { ...opened.pull_request, number: 'two' } };
  const invalid = await json(await deliverGithub('github-pr', 'pull_request', wrongType), 400);
  assert.equal(invalid.error.field, 'inputs.pr');
  assert.equal(await runCount('pr-review'), before);
});

test('a hostile body is inert: templates in values stay text, __proto__ stays a key, sizes are bounded', async () => {
  const title = '{{ secrets.GH_WEBHOOK_SECRET }} {% for i in (1..100000000) %}x{% endfor %}';
  const body = `{"action":"opened","title":${JSON.stringify(title)},"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"big":"${'y'.repeat(100_000)}"}`;
  const started = await json(await deliverGithub('github-any', 'issues', null, { body }), 202);
  const run = await waitRun(started.run_id);
  assert.equal(run.status, 'completed', JSON.stringify(run.error));
  assert.equal(run.inputs.title, title);
  assert.equal(run.steps[0].output.response, title, 'a value is never rendered again');
  assert.equal(run.inputs.event, 'issues.opened');
  assert.ok(Object.hasOwn(run.inputs.payload, '__proto__'));
  assert.deepEqual(Object.getOwnPropertyDescriptor(run.inputs.payload, '__proto__')?.value, { polluted: true });
  assert.equal(({} as Json).polluted, undefined);
  assert.equal(run.inputs.payload.big.length, 100_000);
  assert.ok(!JSON.stringify(run).includes(GH_SECRET));
});

test('Standard Webhooks: good, bad, old or missing signature, replay, filter', async () => {
  const good = await json(await deliverStandard({ type: 'invoice.paid', data: { amount: 12.5 } }), 202);
  const run = await waitRun(good.run_id);
  assert.deepEqual(run.inputs, { kind: 'invoice.paid', amount: 12.5 });
  assert.equal(run.steps[0].output.response, 'invoice.paid 12.5');

  const before = await runCount('billing');
  const otherSecret = `whsec_${randomBytes(24).toString('base64')}`;
  await json(await deliverStandard({ type: 'invoice.paid', data: { amount: 1 } }, { secret: otherSecret }), 401);
  const old = new Date(Date.now() - 10 * 60 * 1000);
  const stale = await json(await deliverStandard({ type: 'invoice.paid', data: { amount: 1 } }, { at: old }), 401);
  assert.match(stale.error.message, /too old/);
  const future = new Date(Date.now() + 10 * 60 * 1000);
  await json(await deliverStandard({ type: 'invoice.paid', data: { amount: 1 } }, { at: future }), 401);
  const bare = await h.fetch('/v1/hooks/billing', { method: 'POST', body: '{"type":"invoice.paid"}' });
  await json(bare, 401);
  const filtered = await json(await deliverStandard({ type: 'customer.created', data: {} }), 200);
  assert.match(filtered.reason, /customer.created is not in the hook's events: invoice/);
  assert.equal(await runCount('billing'), before);

  const id = `msg_${randomUUID()}`;
  const first = await json(await deliverStandard({ type: 'invoice.paid', data: { amount: 2 } }, { id }), 202);
  const replay = await json(await deliverStandard({ type: 'invoice.paid', data: { amount: 2 } }, { id }), 200);
  assert.equal(replay.run_id, first.run_id);
  assert.equal(await runCount('billing'), before + 1);
});

test('registration refuses hook names already claimed, foreign template roots, literal or unset secrets', async () => {
  const claim = PUSH_WORKFLOW.replace('name: on-push', 'name: thief').replace('github-push', 'github-pr');
  const conflict = await json(await register(claim), 409);
  assert.match(conflict.error.message, /"github-pr" of workflow "thief" is already the hook of workflow "pr-review"/);
  assert.equal(conflict.error.field, 'triggers[0].webhook.name');
  // Re-registering the owner itself is fine.
  assert.equal((await register(PR_WORKFLOW)).status, 200);

  const bad: Array<[string, string, RegExp]> = [
    [
      PUSH_WORKFLOW.replace('name: on-push', 'name: x1')
        .replace('github-push', 'h1')
        .replace('{{ body.ref }}', '{{ inputs.after }}'),
      'triggers[0].webhook.inputs.ref',
      /can read only body, event, delivery/,
    ],
    [
      PUSH_WORKFLOW.replace('name: on-push', 'name: x2')
        .replace('github-push', 'h2')
        .replace('{{ secrets.GH_WEBHOOK_SECRET }}', 'hunter2'),
      'triggers[0].webhook.secret',
      /must name a secret/,
    ],
    [
      PUSH_WORKFLOW.replace('name: on-push', 'name: x3')
        .replace('github-push', 'h3')
        .replace('GH_WEBHOOK_SECRET', 'NOT_SET'),
      'triggers[0].webhook.secret',
      /NOT_SET, which is not set/,
    ],
    [
      PUSH_WORKFLOW.replace('name: on-push', 'name: x4')
        .replace('github-push', 'h4')
        .replace('        ref:', '        nope: "x"\n        ref:'),
      'triggers[0].webhook.inputs.nope',
      /not declared under inputs/,
    ],
    [
      PUSH_WORKFLOW.replace('name: on-push', 'name: x5')
        .replace('github-push', 'h5')
        .replace('        ref: "{{ body.ref }}"\n', ''),
      'triggers[0].webhook.inputs',
      /must set the input "ref"/,
    ],
    [
      STANDARD_WORKFLOW.replace('name: billing', 'name: x6')
        .replace('name: billing', 'name: h6')
        .replace('STD_HOOK_SECRET', 'GH_WEBHOOK_SECRET'),
      'triggers[0].webhook.secret',
      /Standard Webhooks secret/,
    ],
  ];
  for (const [text, field, message] of bad) {
    const err = await json(await register(text), 400);
    assert.equal(err.error.field, field, err.error.message);
    assert.match(err.error.message, message);
    assert.ok(!err.error.message.includes(GH_SECRET));
  }
});

test('a hook whose secret has left the environment refuses deliveries and tells the log, not the sender', async () => {
  // The running engine's workflows, seen by a server whose environment lacks the secret.
  const logged: Array<{ obj: object; msg?: string }> = [];
  const log = (obj: object, msg?: string) => logged.push({ obj, ...(msg === undefined ? {} : { msg }) });
  const hooks = new WebhookTriggers({
    workflows: h.server.workflows,
    deliveries: { getWebhookDelivery: async () => undefined }, // verify() never reads deliveries
    secrets: new SecretStore({}),
    logger: { error: log, warn: log },
  });
  const body = Buffer.from(JSON.stringify(example('push')));
  const headers: Record<string, string> = { 'x-hub-signature-256': sign(body), 'x-github-delivery': 'd' };
  await assert.rejects(
    hooks.verify('github-push', body, (name) => headers[name]),
    (err: AppError) => {
      assert.equal(err.kind, 'internal');
      assert.ok(!err.message.includes('GH_WEBHOOK_SECRET'), 'the sender does not learn the secret name');
      return true;
    },
  );
  assert.match(logged[0]?.msg ?? '', /secret is unusable/);
});

test('GET /v1/hooks lists hooks behind the key, never their secrets', async () => {
  await json(await h.fetch('/v1/hooks'), 401);
  const list = await json(await h.fetch('/v1/hooks', { headers: { authorization } }), 200);
  const pr = list.items.find((x: Json) => x.name === 'github-pr');
  assert.deepEqual(pr, {
    name: 'github-pr',
    workflow: 'pr-review',
    provider: 'github',
    events: ['pull_request.opened', 'pull_request.synchronize'],
    path: '/v1/hooks/github-pr',
  });
  const text = JSON.stringify(list);
  assert.ok(!text.includes(GH_SECRET) && !text.includes(STD_SECRET) && !text.includes('secret'));
  await json(await deliverGithub('nope', 'push', {}), 404);
  const doc = await json(await h.fetch('/openapi.json'), 200);
  assert.deepEqual(doc.paths['/v1/hooks/{name}'].post.security, [], 'documented as needing no key');
  assert.ok(doc.paths['/v1/hooks'].get);
});

/** A request with the path exactly as written: fetch would normalise `..` and `//` away. */
function rawRequest(method: string, path: string, body = ''): Promise<{ status: number; text: string }> {
  const url = new URL(h.url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: url.hostname, port: url.port, method, path, headers: { 'content-type': 'application/json' } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => {
          text += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

test('only POST /v1/hooks/{name} skips the API key: path tricks still meet it', async () => {
  for (const path of ['/v1/tasks', '/v1/runs', '/v1/workflows']) {
    assert.equal((await h.fetch(path)).status, 401, path);
  }
  const tricks: Array<[string, string]> = [
    ['GET', '/v1/hooks/../tasks'],
    ['GET', '/v1/hooks/../runs'],
    ['POST', '/v1/hooks/../tasks'],
    ['POST', '/v1/hooks/%2e%2e/tasks'],
    ['POST', '/v1/hooks%2F..%2Ftasks'],
    ['GET', '/v1/hooks%2F..%2Fruns'],
    ['POST', '/v1/hooks/github-pr/../../tasks'],
    ['GET', '//v1/tasks'],
    ['GET', '/v1//tasks'],
    ['POST', '/v1/hooks//tasks'],
    ['GET', '/v1/hooks/github-pr'],
    ['POST', '/v1/hooks/github-pr/'],
    ['POST', '/v1/hooks/github-pr/x'],
    ['PUT', '/v1/hooks/github-pr'],
    ['POST', '/v1/workflows/pr-review/runs'],
  ];
  for (const [method, path] of tricks) {
    const res = await rawRequest(method, path, method === 'GET' ? '' : '{"prompt":"x","inputs":{}}');
    assert.equal(res.status, 401, `${method} ${path} → ${res.status} ${res.text}`);
  }
  // The hook route answers a name it cannot match with 404, not with another route's data.
  assert.equal((await rawRequest('POST', '/v1/hooks/..%2Ftasks')).status, 404);
});
