/**
 * Everything a task, a model or a workflow produces is attacker-written. The agent here says and
 * does hostile things: script tags, an <img onerror>, a javascript: link, markdown. The page must
 * show them as literal text: no dialog, no element they would create, no link, and the CSP header on
 * the page as a second line.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { DASHBOARD_CSP } from '../../src/api/routes/dashboard.ts';
import type { Script } from '../../src/model/scripted-model.ts';
import { launchBrowser, openPage, screenshot, text } from '../fixtures/browser.ts';
import { startHarness } from '../fixtures/harness.ts';

const SCRIPT_TAG = '<script>alert(1)</script>';
const IMG = '<img src=x onerror=alert(1)>';
const LINK = '[click me](javascript:alert(1))';
const HOSTILE = `# Heading\n\n**bold** ${LINK} ${IMG} ${SCRIPT_TAG} <a href="javascript:alert(1)">a link</a>`;

const script: Script = (req) => {
  if (req.turnIndex === 0) {
    return { text: SCRIPT_TAG, tool_use: { name: 'Read', input: { file_path: `${IMG}.txt`, note: HOSTILE } } };
  }
  return { text: HOSTILE };
};

/** Elements and attributes that only an injection would have put on the page. */
async function injected(page: Page) {
  return page.evaluate(() => ({
    scripts: [...document.querySelectorAll('script')].map((s) => s.getAttribute('src') ?? 'inline'),
    images: document.querySelectorAll('img').length,
    handlers: document.querySelectorAll('[onerror],[onload],[onclick],[onmouseover]').length,
    links: [...document.querySelectorAll('a')].map((a) => a.getAttribute('href') ?? ''),
    headings: [...document.querySelectorAll('h1,h2,h3')].map((h) => h.textContent ?? ''),
    strong: [...document.querySelectorAll('strong')].map((s) => s.textContent ?? ''),
  }));
}

let browser: Browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

test('hostile task output and tool input are shown as text, never run', async () => {
  const h = await startHarness({ script });
  const { context, page, dialogs, consoleErrors } = await openPage(browser);
  try {
    const res = await h.fetch('/v1/tasks', {
      method: 'POST',
      json: { prompt: `Repeat after me: ${HOSTILE}`, allowed_tools: ['Read'], metadata: { title: IMG } },
    });
    const task = (await res.json()) as { id: string };
    await h.fetch(`/v1/tasks/${task.id}?wait=60`).then((r) => r.body?.cancel());

    const response = await page.goto(`${h.url}/#/tasks`);
    assert.equal(response?.headers()['content-security-policy'], DASHBOARD_CSP);
    assert.equal(response?.headers()['x-content-type-options'], 'nosniff');
    await page.locator(`tr[data-task="${task.id}"]`).waitFor();
    await page.goto(`${h.url}/#/tasks/${task.id}`);
    await page.locator('.facts .badge-completed').waitFor();
    await page.locator('.response', { hasText: 'javascript:alert(1)' }).waitFor();

    // Shown literally: the tags, the markdown and the link as the characters they are.
    const transcript = await text(page.locator('.transcript'));
    for (const text of [SCRIPT_TAG, IMG, LINK, '# Heading', '**bold**']) assert.ok(transcript.includes(text), text);
    assert.ok((await text(page.locator('.ev-tool[data-tool="Read"] .tool-input'))).includes(IMG));
    assert.ok((await text(page.locator('.response'))).includes(HOSTILE));
    assert.ok((await text(page.locator('.prompt-text'))).includes(HOSTILE));

    const found = await injected(page);
    assert.equal(found.images, 0, 'no <img> was created');
    assert.equal(found.handlers, 0, 'no event-handler attribute exists');
    assert.deepEqual(
      found.scripts.filter((src) => !src.startsWith('/assets/')),
      [],
      'only the dashboard own script',
    );
    for (const href of found.links) assert.match(href, /^#\//, `link ${href} is one of the dashboard's own`);
    assert.ok(!found.headings.includes('Heading'), 'markdown is not rendered');
    assert.ok(!found.strong.includes('bold'), 'markdown is not rendered');

    // Give an onerror every chance to fire: a round trip to the server and back.
    await page.evaluate(() => fetch('/health').then((r) => r.text()));
    assert.deepEqual(dialogs, [], 'no dialog opened');
    assert.deepEqual(
      consoleErrors.filter((e) => /Content Security Policy|Refused to/.test(e)),
      [],
      'the page itself never needs what the CSP refuses',
    );
    await screenshot(page, 'xss-task-page');
  } finally {
    await context.close();
    await h.close();
  }
});
