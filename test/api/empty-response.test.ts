/**
 * The article's "Empty response" row: Claude Code finishing with nothing to say is a failure,
 * `empty_response` (retryable), for tasks and claude steps alike; a step may allow it with
 * `allow_empty: true`. Real Claude Code against the scripted model.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SwitchyardClient } from '../../src/client/client.ts';
import { startHarness } from '../fixtures/harness.ts';

test('an empty response fails a task and a claude step `empty_response`; retried, or allowed with allow_empty', {
  timeout: 120_000,
}, async () => {
  // Claude Code itself asks once more after an empty reply, within the same session: the flaky
  // step's first attempt (its first Claude Code session) stays silent throughout, the next answers.
  let firstSession: string | undefined;
  const h = await startHarness({
    script: (req) => {
      if (req.prompt.includes('say nothing')) return { text: ' \n\t ' };
      if (req.prompt.includes('flaky')) {
        const session = String(req.headers['x-claude-code-session-id']);
        firstSession ??= session;
        return session === firstSession ? { text: '' } : { text: 'second try' };
      }
      return { text: `Done: ${req.prompt}` };
    },
  });
  try {
    const client = new SwitchyardClient({ baseUrl: h.url });
    const task = await client.wait((await client.submit({ prompt: 'say nothing' })).id);
    assert.equal(task.status, 'failed');
    assert.equal(task.error?.kind, 'empty_response');
    assert.equal(task.error?.retryable, true);
    assert.match(task.error?.message ?? '', /without a response.*allowed_tools/);

    const wf = h.server.workflows;
    await wf.registerWorkflow(
      [
        'name: quiet',
        'steps:',
        '  silent:',
        '    worker: claude',
        '    prompt: say nothing',
        '  allowed:',
        '    worker: claude',
        '    prompt: say nothing, and that is fine',
        '    allow_empty: true',
        '  flaky:',
        '    worker: claude',
        '    prompt: flaky',
        '    retry: { max_attempts: 2, backoff: { initial: 0 } }',
      ].join('\n'),
    );
    const run = await wf.waitRun((await wf.startRun('quiet', {})).run.id, 100_000);
    const step = (name: string) => run.steps.find((s) => s.name === name)!;
    assert.equal(step('silent').status, 'failed');
    assert.equal(step('silent').error?.kind, 'empty_response');
    assert.equal(step('allowed').status, 'completed');
    assert.equal(step('allowed').output?.response.trim(), '');
    assert.equal(step('flaky').status, 'completed', JSON.stringify(step('flaky').errors));
    assert.equal(step('flaky').output?.response, 'second try');
    assert.deepEqual(
      step('flaky').errors.map((e) => [e.attempt, e.kind]),
      [[1, 'empty_response']],
    );
    assert.equal(run.status, 'failed');
    const dead = await wf.listDlq({ limit: 10 });
    assert.deepEqual(
      dead.items.map((d) => d.step),
      ['silent'],
    );
  } finally {
    await h.close();
  }
});
