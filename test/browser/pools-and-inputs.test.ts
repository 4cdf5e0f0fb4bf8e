/**
 * The Pools page and a step's rendered input: a pool of one held by one run
 * and waited on by another shows both on the Pools page, linking to their runs; and a step's rendered
 * input is shown on the run page with the secret in its Authorization header as [redacted].
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { launchBrowser, openPage, screenshot, text } from '../fixtures/browser.ts';
import { type Harness, startHarness } from '../fixtures/harness.ts';

const SECRET = 'tok-5e1f9a0c7d3b2468';

const calling = (url: string) => `name: single-lane
inputs:
  note: {type: string, default: "<img src=x onerror=alert(1)>"}
pools: {lane: 1}
steps:
  call:
    worker: http
    pool: lane
    url: "${url}"
    method: POST
    headers: {Authorization: "Bearer {{ secrets.LANE_TOKEN }}"}
    body: {note: "{{ inputs.note }}"}
`;

async function register(h: Harness, body: string): Promise<void> {
  const res = await h.fetch('/v1/workflows', { method: 'POST', body, headers: { 'content-type': 'application/yaml' } });
  assert.ok(res.ok, await res.text());
}

async function startRun(h: Harness): Promise<string> {
  const res = await h.fetch('/v1/workflows/single-lane/runs', { method: 'POST', json: {} });
  if (!res.ok) assert.fail(await res.text());
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

test('a pool of one held by one run and waited on by another: the Pools page shows both; inputs are shown redacted', async () => {
  // The service holds every request until released, so the first run keeps the pool's only slot.
  const held: http.ServerResponse[] = [];
  let release = false;
  const service = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (release) res.end('{"ok":true}');
      else held.push(res);
    });
  });
  await new Promise<void>((resolve) => service.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(service.address() as AddressInfo).port}/lane`;
  const h = await startHarness({ env: { SWITCHYARD_HTTP_ALLOW: '127.0.0.1', SWITCHYARD_SECRET_LANE_TOKEN: SECRET } });
  const { context, page, dialogs } = await openPage(browser);
  try {
    await register(h, calling(url));
    const first = await startRun(h);
    // Bounded: the first request reaches the service before the second run starts.
    for (let i = 0; i < 200 && held.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(held.length, 1, 'the first run holds the slot');
    const second = await startRun(h);

    await page.goto(`${h.url}/#/pools`);
    const pool = page.locator('.pool[data-pool="lane"]');
    await pool.locator(`.holders li[data-run="${first}"]`).waitFor();
    await pool.locator(`.waiting li[data-run="${second}"]`).waitFor();
    assert.match(await text(pool.locator('.pool-count')), /1 \/ 1 in use/);
    assert.equal(await pool.locator('.pool-meter').getAttribute('value'), '1');
    assert.match(await text(pool), /single-lane · call/);
    assert.match(await text(pool), /workflow/, 'the pool says it comes from a workflow');
    await screenshot(page, 'pools');

    // A holder links to its run, whose waiting step says what it waits for.
    await pool.locator(`.waiting li[data-run="${second}"] a`).click();
    await page.waitForURL(new RegExp(`#/runs/${second}$`));
    await page.locator('.dag-node.dag-waiting_pool[data-step="call"]').click();
    await page.getByText('Waiting for pool lane', { exact: false }).waitFor();
    // The waiting step names who holds the pool, linking to that run.
    await page.locator(`.pool-holders a[href="#/runs/${first}"]`).waitFor();
    await screenshot(page, 'run-waiting-pool');

    release = true;
    for (const res of held.splice(0)) res.end('{"ok":true}');
    assert.equal(await runStatus(h, first, 30), 'completed');
    assert.equal(await runStatus(h, second, 30), 'completed');

    await page.goto(`${h.url}/#/runs/${first}`);
    await page.locator('h1 .badge-completed').waitFor();
    await page.locator('.dag-node[data-step="call"]').click();
    const input = page.locator('.step-detail .step-input');
    await input.waitFor();
    const shown = await text(input);
    assert.match(shown, /Authorization/);
    assert.match(shown, /\[redacted\]/);
    assert.ok(!shown.includes(SECRET), 'the secret is never on the page');
    assert.ok(shown.includes('<img src=x onerror=alert(1)>'), 'the rendered body is shown as text');
    assert.ok(!(await page.content()).includes(SECRET));
    await screenshot(page, 'run-step-input');

    await page.goto(`${h.url}/#/pools`);
    await pool.getByText('Free.').waitFor();
    assert.equal(await page.locator('img').count(), 0);
    assert.deepEqual(dialogs, []);
  } finally {
    await context.close();
    await h.close();
    service.closeAllConnections();
    await new Promise<void>((resolve) => service.close(() => resolve()));
  }
});
