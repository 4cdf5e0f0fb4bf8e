/** Logging in and out of the dashboard when API keys are configured, in a real browser. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { launchBrowser, openPage, screenshot, text } from '../fixtures/browser.ts';
import { startHarness } from '../fixtures/harness.ts';

const KEY = 'browser-key-0123456789abcdef';

let browser: Browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

test('log in with an API key, stay in across a reload, log out for real', async () => {
  const h = await startHarness({ env: { SWITCHYARD_API_KEYS: KEY } });
  const { context, page, dialogs } = await openPage(browser);
  try {
    await page.goto(h.url);
    await page.getByLabel('API key').waitFor();
    await screenshot(page, 'login');

    await page.getByLabel('API key').fill(`${KEY}-wrong`);
    await page.getByRole('button', { name: 'Log in' }).click();
    assert.match(await text(page.getByRole('alert')), /not a valid API key/);

    await page.getByLabel('API key').fill(KEY);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Tasks' }).waitFor();

    const cookies = await context.cookies();
    assert.equal(cookies.length, 1);
    assert.equal(cookies[0]!.name, 'switchyard_session');
    assert.equal(cookies[0]!.httpOnly, true);
    assert.equal(cookies[0]!.sameSite, 'Strict');
    assert.equal(await page.evaluate(() => document.cookie), '', 'the page script cannot read the session');
    assert.equal(
      await page.evaluate(() => JSON.stringify(localStorage) + JSON.stringify(sessionStorage)),
      '{}{}',
      'the key is kept nowhere in the page',
    );

    // In the page, a write without the session's CSRF token is refused even from the same origin;
    // with the token GET /v1/session hands the page, it passes (404: no such task, not 403).
    const statuses = await page.evaluate(async () => {
      const bare = await fetch('/v1/tasks/none/cancel', { method: 'POST' });
      const { csrf_token } = (await (await fetch('/v1/session')).json()) as { csrf_token: string };
      const withToken = await fetch('/v1/tasks/none/cancel', {
        method: 'POST',
        headers: { 'x-csrf-token': csrf_token },
      });
      return [bare.status, withToken.status];
    });
    assert.deepEqual(statuses, [403, 404]);

    await page.reload();
    await page.getByRole('heading', { name: 'Tasks' }).waitFor();

    const session = cookies[0]!.value;
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByLabel('API key').waitFor();
    assert.deepEqual(await context.cookies(), []);
    const replay = await h.fetch('/v1/tasks', { headers: { cookie: `switchyard_session=${session}` } });
    assert.equal(replay.status, 401, 'the old session id no longer works anywhere');
    assert.deepEqual(dialogs, []);
  } finally {
    await context.close();
    await h.close();
  }
});
