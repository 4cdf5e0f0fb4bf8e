/**
 * Steering from the browser: submit a task from the New task form (a bad field is refused beside that
 * field, then the task runs to completion), and register a workflow by pasting YAML (the server's
 * validation error is shown with its line marked, the fix registers it, and its hook's path is listed).
 * The offending line carries hostile markup, shown as text.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import type { Script } from '../../src/model/scripted-model.ts';
import { launchBrowser, openPage, screenshot, text } from '../fixtures/browser.ts';
import { startHarness } from '../fixtures/harness.ts';

const IMG = '<img src=x onerror=alert(1)>';
const ANSWER = 'Checked: the repository is clean.';
const script: Script = () => ({ text: ANSWER });

const workflow = (worker: string) => `name: pr-notes
inputs:
  repo: {type: string, default: acme/api}
steps:
  note:
    worker: transform
    template: "review {{ inputs.repo }}"
  publish:
    worker: "${worker}"
    depends_on: [note]
    template: "published"
triggers:
  - webhook:
      name: pr-opened
      provider: github
      secret: "{{ secrets.HOOK_SECRET }}"
      events: [pull_request.opened]
      inputs:
        repo: "{{ body.repository.full_name }}"
`;

let browser: Browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

test('submit a task from the New task form: a bad field is shown beside it; then the task completes', async () => {
  const h = await startHarness({ script });
  const { context, page, dialogs } = await openPage(browser);
  try {
    await page.goto(`${h.url}/#/tasks`);
    await page.getByRole('button', { name: 'New task' }).click();
    const form = page.locator('form.new-task');
    await form.locator('[name="prompt"]').fill('Is the repository clean?');
    await form.getByLabel('Allowed tools (comma-separated)').fill('Read, Bash(git status)');
    await form.locator('[name="timeout"]').fill('5');
    await form.getByRole('button', { name: 'Submit task' }).click();

    // The server's 400 names `timeout`: its message sits under that field, nowhere else.
    const timeoutField = form.locator('label.has-error', { has: page.locator('input[name="timeout"]') });
    await timeoutField.locator('.field-error').waitFor();
    assert.match(await text(timeoutField.locator('.field-error')), /timeout/);
    assert.equal(await form.locator('.field-error').count(), 1);
    assert.match(page.url(), /#\/tasks$/, 'still on the form');
    await screenshot(page, 'new-task-form-error');

    await form.locator('[name="timeout"]').fill('60000');
    // The other request fields sit under More options; JSON that does not parse is caught before sending.
    await form.getByText('More options').click();
    await form.getByLabel('Max turns').fill('3');
    await form.getByLabel('Metadata (JSON object)').fill('{ticket: OPS-1}');
    await form.getByRole('button', { name: 'Submit task' }).click();
    await form.locator('label.has-error', { hasText: 'Metadata' }).locator('.field-error').waitFor();
    assert.match(await text(form.locator('.field-error')), /metadata is not valid JSON/);
    await screenshot(page, 'new-task-more-options');
    await form.getByLabel('Metadata (JSON object)').fill('{"ticket": "OPS-1"}');
    await form.getByRole('button', { name: 'Submit task' }).click();
    await page.waitForURL(/#\/tasks\/[^/]+$/);
    await page.locator('.facts .badge-completed').waitFor();
    await page.locator('.transcript pre.text', { hasText: ANSWER }).waitFor();
    const id = decodeURIComponent(new URL(page.url()).hash.split('/')[2]!);
    const task = (await (await h.fetch(`/v1/tasks/${id}`)).json()) as {
      status: string;
      request: { allowed_tools?: string[]; timeout?: number; max_turns?: number };
      metadata: Record<string, unknown> | null;
    };
    assert.equal(task.status, 'completed');
    assert.deepEqual(task.request.allowed_tools, ['Read', 'Bash(git status)']);
    assert.equal(task.request.timeout, 60000);
    assert.equal(task.request.max_turns, 3);
    assert.deepEqual(task.metadata, { ticket: 'OPS-1' });
    assert.deepEqual(dialogs, []);
  } finally {
    await context.close();
    await h.close();
  }
});

test('paste a bad workflow: the error is shown with its line marked; the fix registers it with its hook', async () => {
  // With API keys the page writes through a login session, so the YAML POST must carry the CSRF token.
  const KEY = 'steer-key-0123456789abcdef';
  const h = await startHarness({
    env: { SWITCHYARD_API_KEYS: KEY, SWITCHYARD_SECRET_HOOK_SECRET: 'a-long-enough-hook-secret-0123456789' },
  });
  const { context, page, dialogs } = await openPage(browser);
  try {
    await page.goto(`${h.url}/#/workflows`);
    await page.getByLabel('API key').fill(KEY);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('button', { name: 'Register workflow' }).click();
    const editor = page.locator('.workflow-editor');
    await editor.getByLabel('File name').fill('pr-notes.yaml');
    await editor.getByLabel('Workflow definition').fill(workflow(IMG));
    await editor.getByRole('button', { name: 'Register' }).click();

    const validation = editor.locator('.validation');
    await validation.waitFor();
    const message = await text(validation);
    assert.match(message, /pr-notes\.yaml:9: step "publish": worker/, 'file, line and step named');
    assert.ok(message.includes(IMG), 'the hostile worker name is shown as the text it is');
    assert.equal(await editor.locator('.yaml-gutter li.line-bad').getAttribute('data-line'), '9');
    assert.equal(await editor.locator('.yaml-band').getAttribute('data-line'), '9');
    assert.equal(await editor.locator('.yaml-gutter li.line-bad').count(), 1);
    await screenshot(page, 'workflow-editor-error');

    // A YAML-level error (line and column) is located the same way.
    await editor
      .getByLabel('Workflow definition')
      .fill('name: dup\nsteps:\n  a:\n    worker: transform\n    worker: transform\n');
    await editor.getByRole('button', { name: 'Register' }).click();
    await editor.locator('.yaml-gutter li.line-bad[data-line="5"]').waitFor();
    assert.match(await text(validation), /pr-notes\.yaml:5:5: YAML error: map keys must be unique/);

    await editor.getByLabel('Workflow definition').fill(workflow('transform'));
    await editor.getByRole('button', { name: 'Register' }).click();
    await editor.getByText('Registered pr-notes, version 1.').waitFor();
    assert.equal(await editor.locator('.validation').count(), 0);
    assert.equal(await editor.locator('.line-bad').count(), 0);
    const card = page.locator('.workflow[data-workflow="pr-notes"]');
    await card.waitFor();
    // The hooks come from their own poll (GET /v1/hooks), which may answer after the workflow list.
    await card.locator('code', { hasText: 'POST /v1/hooks/pr-opened' }).waitFor();
    assert.match(await text(card), /POST \/v1\/hooks\/pr-opened/);
    const hook = page.locator('table.hooks tr[data-hook="pr-opened"]');
    await hook.waitFor();
    assert.match(await text(hook), /pr-notes/);
    assert.match(await text(hook), /github/);
    assert.match(await text(hook), /pull_request\.opened/);
    assert.match(await text(hook), new RegExp(`POST ${h.url.replace(/[.]/g, '\\.')}/v1/hooks/pr-opened`));
    await screenshot(page, 'workflow-registered');

    // Edit definition loads the registered definition (as YAML) into the editor; a change makes version 2.
    await card.getByRole('button', { name: 'Edit definition' }).click();
    const area = editor.getByLabel('Workflow definition');
    const loaded = await area.inputValue();
    assert.match(loaded, /^name: pr-notes$/m);
    assert.match(loaded, /secret: "?\{\{ secrets\.HOOK_SECRET \}\}"?/, 'the secret stays a reference');
    assert.equal(await editor.getByLabel('File name').inputValue(), 'pr-notes.yaml');
    await area.fill(loaded.replace('template: published', 'template: published again'));
    await editor.getByRole('button', { name: 'Register' }).click();
    await editor.getByText('Registered pr-notes, version 2.').waitFor();
    await page.locator('.workflow[data-workflow="pr-notes"]', { hasText: 'version 2' }).waitFor();

    assert.equal(await page.locator('img').count(), 0);
    assert.deepEqual(dialogs, []);
  } finally {
    await context.close();
    await h.close();
  }
});
