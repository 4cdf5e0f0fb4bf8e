/**
 * The article's snippets, run as written against a real server: its curl commands and its Python
 * `run_claude_task` (httpx, 5 s polling). Only the address differs.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import type { Script } from '../../src/model/scripted-model.ts';
import { startHarness } from '../fixtures/harness.ts';

const run = promisify(execFile);
const PYTHON = '/usr/bin/python3';

const script: Script = (req) =>
  req.prompt.includes('hang') ? { hang: true } : { text: 'Analysis of error logs:\n1. Database connection timeouts' };

test("the article's curl submit and poll", async () => {
  const h = await startHarness({ script });
  try {
    const body = `{
"prompt": "Analyze the error logs in /var/log/app.log and summarize the top 3 issues",
"allowed_tools": ["Read", "Glob", "Grep"],
"timeout": 120000
}`;
    const submitted = await run('curl', [
      '-sS',
      '-X',
      'POST',
      `${h.url}/execute`,
      '-H',
      'Content-Type: application/json',
      '-d',
      body,
    ]);
    const { session_id, status } = JSON.parse(submitted.stdout);
    assert.equal(typeof session_id, 'string');
    assert.ok(status === 'queued' || status === 'running');
    await (await h.fetch(`/v1/tasks/${session_id}?wait=60`)).text();
    const polled = JSON.parse((await run('curl', ['-sS', `${h.url}/sessions/${session_id}`])).stdout);
    assert.equal(polled.session_id, session_id);
    assert.equal(polled.status, 'completed');
    assert.equal(polled.response, 'Analysis of error logs:\n1. Database connection timeouts');
    assert.deepEqual(polled.result.policy.tools, ['Read', 'Glob', 'Grep']);
    assert.equal(polled.error, null);
  } finally {
    await h.close();
  }
});

test("the article's Python run_claude_task returns the completed session", async () => {
  const h = await startHarness({ script });
  try {
    const file = path.join(import.meta.dirname, 'run_claude_task.py');
    const { stdout } = await run(PYTHON, [file, h.url, 'Summarize README', '120000']);
    const status = JSON.parse(stdout);
    assert.equal(status.status, 'completed');
    assert.match(status.response, /^Analysis of error logs/);
  } finally {
    await h.close();
  }
});

test("the article's loop ends on a timed-out task: failed with kind timeout", async () => {
  const h = await startHarness({ script });
  try {
    const file = path.join(import.meta.dirname, 'run_claude_task.py');
    const { stdout } = await run(PYTHON, [file, h.url, 'please hang', '2000']);
    const status = JSON.parse(stdout);
    assert.equal(status.status, 'failed');
    assert.equal(status.error.kind, 'timeout');
    assert.equal(status.error.retryable, true);
  } finally {
    await h.close();
  }
});
