/**
 * Steering workflows from the browser: approve a pending review and see the run finish (its DAG and
 * step detail on the run page), and redrive a dead-lettered step. The review message and the step
 * output carry hostile markup, shown as text.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { launchBrowser, openPage, screenshot, text } from '../fixtures/browser.ts';
import { type Harness, startHarness } from '../fixtures/harness.ts';

const IMG = '<img src=x onerror=alert(1)>';

const GATED = `name: gated
inputs:
  channel: {type: string, default: blog}
triggers:
  - cron: "0 3 * * *"
    name: nightly
steps:
  draft:
    worker: transform
    template: "<script>alert(1)</script> **draft**"
  review:
    worker: approval
    depends_on: [draft]
    message: "Publish {{ draft.response }}? ${IMG}"
  publish:
    worker: transform
    depends_on: [review]
    template: "published"
`;

const calling = (url: string) => `name: flaky
steps:
  fetch:
    worker: http
    url: "${url}"
    retry: { max_attempts: 1 }
`;

async function register(h: Harness, text: string): Promise<void> {
  const res = await h.fetch('/v1/workflows', {
    method: 'POST',
    body: text,
    headers: { 'content-type': 'application/yaml' },
  });
  assert.ok(res.ok, await res.text());
}

async function startRun(h: Harness, workflow: string): Promise<string> {
  const res = await h.fetch(`/v1/workflows/${workflow}/runs`, { method: 'POST', json: {} });
  return ((await res.json()) as { id: string }).id;
}

async function runStatus(h: Harness, id: string, wait = 0): Promise<string> {
  return ((await (await h.fetch(`/v1/runs/${id}?wait=${wait}`)).json()) as { status: string }).status;
}

let browser: Browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

test('start a run, approve its pending review in the browser and see the run finish', async () => {
  const h = await startHarness();
  const { context, page, dialogs } = await openPage(browser);
  try {
    await register(h, GATED);
    await page.goto(`${h.url}/#/workflows`);
    const card = page.locator('.workflow[data-workflow="gated"]');
    assert.match(await text(card.locator('textarea')), /"channel": "blog"/, 'inputs prefilled from the definition');
    const schedule = page.locator('tr', { hasText: 'nightly' });
    await schedule.getByRole('button', { name: 'Pause' }).click();
    await schedule.getByRole('button', { name: 'Resume' }).waitFor();
    await screenshot(page, 'workflows');
    await card.getByRole('button', { name: 'Start run' }).click();
    await page.waitForURL(/#\/runs\/[0-9a-f-]+$/);
    const id = decodeURIComponent(new URL(page.url()).hash.split('/')[2]!);
    await page.locator('h1 .badge-awaiting_approval').waitFor();
    await page.goto(`${h.url}/#/reviews`);
    const review = page.locator(`.review[data-run="${id}"][data-step="review"]`);
    await review.locator('.review-message', { hasText: 'Publish' }).waitFor();
    assert.equal(
      await text(review.locator('.review-message')),
      `Publish <script>alert(1)</script> **draft**? ${IMG}`,
      'the message is shown as the text it is',
    );
    await screenshot(page, 'reviews');
    await page.goto(`${h.url}/#/runs/${id}`);
    await page.locator('.dag-node.dag-awaiting_approval[data-step="review"]').waitFor();
    assert.equal(await page.locator('.dag-node.dag-pending[data-step="publish"]').count(), 1);
    await page.locator('.dag-node[data-step="review"]').click();
    await page.getByText('Waiting for a review (see Reviews).').waitFor();
    await screenshot(page, 'run-page-waiting');
    await page.goto(`${h.url}/#/reviews`);

    await review.getByLabel('Comment').fill('Looks right <b>to me</b>');
    await review.getByRole('button', { name: 'Approve' }).click();
    await page.getByText('Nothing is waiting for a review.').waitFor();
    assert.equal(await runStatus(h, id, 30), 'completed');

    await page.goto(`${h.url}/#/runs/${id}`);
    await page.locator('h1 .badge-completed').waitFor();
    assert.equal(await page.locator('.dag .dag-node.dag-completed').count(), 3, 'every node coloured completed');
    await page.locator('.dag-node[data-step="draft"]').click();
    await page.locator('.step-detail pre.text', { hasText: '<script>alert(1)</script> **draft**' }).waitFor();
    await screenshot(page, 'run-page');
    await page.goto(`${h.url}/#/runs`);
    await page.locator(`tr[data-run="${id}"] .badge-completed`).waitFor();
    await screenshot(page, 'runs-list');
    assert.equal(await page.locator('img').count(), 0);
    assert.deepEqual(dialogs, []);
  } finally {
    await context.close();
    await h.close();
  }
});

test('redrive a dead-lettered step in the browser', async () => {
  let status = 500;
  const service = http.createServer((_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ok: status === 200 }));
  });
  await new Promise<void>((resolve) => service.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(service.address() as AddressInfo).port}/item`;
  const h = await startHarness({ env: { SWITCHYARD_HTTP_ALLOW: '127.0.0.1' } });
  const { context, page, dialogs } = await openPage(browser);
  try {
    await register(h, calling(url));
    const id = await startRun(h, 'flaky');
    assert.equal(await runStatus(h, id, 30), 'failed');

    await page.goto(`${h.url}/#/dlq`);
    const entry = page.locator('.dlq-entry', { hasText: 'flaky' });
    await entry.waitFor();
    assert.match(await text(entry.locator('table.errors')), /http_status/);
    await screenshot(page, 'dlq');

    status = 200;
    await entry.getByRole('button', { name: 'Redrive' }).click();
    await page.getByText('No dead letters (open).').waitFor();
    assert.equal(await runStatus(h, id, 30), 'completed');
    await page.getByLabel('status filter').selectOption('retried');
    await page.locator('.dlq-entry .badge-retried').waitFor();
    assert.deepEqual(dialogs, []);
  } finally {
    await context.close();
    await h.close();
    service.closeAllConnections();
    await new Promise<void>((resolve) => service.close(() => resolve()));
  }
});
