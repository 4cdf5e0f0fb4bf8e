/**
 * The task pages in a real browser: the list, and a live transcript that grows while the agent works
 * (a scripted turn with delay_ms holds the last reply back), with a permission denial highlighted.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import type { Script } from '../../src/model/scripted-model.ts';
import { launchBrowser, openPage, screenshot, text } from '../fixtures/browser.ts';
import { startHarness } from '../fixtures/harness.ts';

const FINAL = 'The notes say: ship on Friday.';

const script: Script = (req) => {
  if (req.lastUserText.includes('Anything else?')) return { text: 'Nothing else to add.' };
  if (req.turnIndex === 0) {
    return { text: 'Let me read the notes first.', tool_use: { name: 'Read', input: { file_path: 'notes.txt' } } };
  }
  // Not among allowed_tools: the tool does not exist for the model, and the page must say it was refused.
  if (req.turnIndex === 1) return { tool_use: { name: 'Bash', input: { command: 'curl https://example.com' } } };
  return { text: FINAL, delay_ms: 3000 };
};

let browser: Browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

test('a live task: the transcript grows as the agent works; the denial is highlighted; the list shows it', async () => {
  const h = await startHarness({ script });
  const { context, page, dialogs } = await openPage(browser);
  try {
    fs.writeFileSync(path.join(h.workspace, 'notes.txt'), 'ship on Friday\n');
    const res = await h.fetch('/v1/tasks', {
      method: 'POST',
      json: { prompt: 'Summarise notes.txt in one line', allowed_tools: ['Read'] },
    });
    const task = (await res.json()) as { id: string };

    await page.goto(`${h.url}/#/tasks`);
    await page.locator(`tr[data-task="${task.id}"] a`).click();
    await page.locator('.ev-tool[data-tool="Read"]').waitFor();
    // The Read call is on screen while the model still holds its last reply back: the page is live.
    const early = await page.locator('.transcript > li').count();
    assert.equal(await page.getByText(FINAL).count(), 0, 'the final text is not there yet');
    assert.match(await text(page.locator('.ev-tool[data-tool="Read"] .tool-result')), /ship on Friday/);

    const denied = page.locator('.ev-tool[data-tool="Bash"]');
    await denied.waitFor();
    await page.locator('.ev-tool[data-tool="Bash"].ev-denied .flag-denied').waitFor();
    assert.match(await text(denied), /curl https:\/\/example\.com/);

    await page.locator('.transcript pre.text', { hasText: FINAL }).waitFor();
    await page.locator('.facts .badge-completed').waitFor();
    assert.ok((await page.locator('.transcript > li').count()) > early, 'the transcript grew');
    assert.match(await text(page.locator('.facts')), /Sandbox/);
    assert.match(await text(page.locator('.facts')), /Read/);
    await screenshot(page, 'task-page');

    // A follow-up from the page continues the session, and the transcript follows it live again.
    await page.getByLabel('Follow-up message').fill('Anything else?');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.locator('.transcript pre.text', { hasText: 'Nothing else to add.' }).waitFor();
    await page.locator('.facts .badge-completed').waitFor();
    assert.equal(await page.locator('.transcript pre.text', { hasText: FINAL }).count(), 1, 'nothing shown twice');

    await page.goto(`${h.url}/#/tasks`);
    const row = page.locator(`tr[data-task="${task.id}"]`);
    await row.locator('.badge-completed').waitFor();
    assert.match(await text(row), /\$\d/, 'the cost is shown');
    await page.getByLabel('status filter').selectOption('failed');
    await page.getByText('No tasks with status failed.').waitFor();
    await page.getByLabel('status filter').selectOption('');
    await row.waitFor();
    await screenshot(page, 'tasks-list');
    assert.deepEqual(dialogs, []);
  } finally {
    await context.close();
    await h.close();
  }
});
