/**
 * The whole server on PostgreSQL (SWITCHYARD_DATABASE_URL): the article's task and a workflow run end to
 * end, and both are still there for a server started afterwards on the same database with a new data dir.
 * The URL's password is a secret like the others: what repeats it is redacted.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { GREET } from '../fixtures/greet-workflow.ts';
import { startHarness, waitForSession } from '../fixtures/harness.ts';
import { postgresForTests } from '../fixtures/postgres.ts';

const postgres = postgresForTests();
const PASSWORD = 'db-password-4f9c2e7a';

test('a server on PostgreSQL runs a task and a workflow, and another server on the database finds them', async () => {
  const db = await postgres.createDatabase();
  // The test cluster trusts local connections, so any password gets in; it must never come back out.
  const url = new URL(db.url);
  url.password = PASSWORD;
  const env = { SWITCHYARD_DATABASE_URL: url.toString() };
  const first = await startHarness({ env });
  let sessionId: string;
  let runId: string;
  try {
    const res = await first.fetch('/execute', {
      method: 'POST',
      json: { prompt: `Summarize the logs ${PASSWORD}`, allowed_tools: ['Read'], timeout: 120000 },
    });
    assert.equal(res.status, 200);
    sessionId = ((await res.json()) as { session_id: string }).session_id;
    const session = await waitForSession(first, sessionId);
    assert.equal(session.status, 'completed', JSON.stringify(session));
    // The scripted model repeats the prompt: the database password is redacted like any other secret.
    assert.equal(session.response, 'Done: Summarize the logs [redacted]');

    const wf = first.server.workflows;
    await wf.registerWorkflow(GREET);
    const { run } = await wf.startRun('greet', { who: 'pg' });
    runId = run.id;
    const done = await wf.waitRun(run.id, 60_000);
    assert.equal(done.status, 'completed', JSON.stringify(done));
    // The state went to PostgreSQL: no SQLite database in the data dir.
    assert.equal(fs.existsSync(path.join(first.dataDir, 'switchyard.db')), false);
  } finally {
    await first.close();
  }

  const second = await startHarness({ env });
  try {
    const session = (await (await second.fetch(`/sessions/${sessionId}`)).json()) as Record<string, unknown>;
    assert.equal(session.status, 'completed');
    assert.equal(session.response, 'Done: Summarize the logs [redacted]');
    const run = (await (await second.fetch(`/v1/runs/${runId}`)).json()) as { status: string };
    assert.equal(run.status, 'completed');
  } finally {
    await second.close();
  }
});
