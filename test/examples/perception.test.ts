/**
 * examples/perception, end to end from its trigger: the scheduler's clock moves to the next 6-hour fire;
 * five sources are fetched from a local stand-in, five extractions run one at a time on a local
 * OpenAI-compatible model (a pool of one), the digest waits for a person, and once approved it is posted
 * to a staging stand-in with the token.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../src/triggers/clock.ts';
import { filesContaining } from '../fixtures/files.ts';
import { startLlmServer } from '../fixtures/llm-server.ts';
import { json, overlaps, startService } from '../scenarios/kit.ts';
import { registerExample, settledRun, startExampleServer } from './kit.ts';

const STAGING_TOKEN = 'stg_exampleToken_8e2a61c4f09b';
const SOURCES = ['rates', 'news', 'jobs', 'prices', 'housing'];

test('perception: the 6-hour fire fetches, extracts one at a time, and posts the approved digest', async (t) => {
  const data = await startService((req, res) => json(res, 200, { source: req.path, values: [1, 2, 3] }));
  t.after(() => data.close());
  const staging = await startService((req, res) =>
    json(res, req.headers.authorization === `Bearer ${STAGING_TOKEN}` ? 201 : 401, { id: 'review-1' }),
  );
  t.after(() => staging.close());
  const llm = await startLlmServer(
    SOURCES.map((source) => ({ text: JSON.stringify({ insights: [`${source}: one`, `${source}: two`] }) })),
  );
  t.after(() => llm.close());
  const clock = new ManualClock(Date.parse('2026-03-01T01:30:00Z'));
  const h = await startExampleServer(t, {
    clock,
    env: {
      SWITCHYARD_LLM_BASE_URL: `${llm.url}/v1`,
      SWITCHYARD_LLM_MODEL: 'local-model',
      SWITCHYARD_SECRET_STAGING_TOKEN: STAGING_TOKEN,
    },
  });
  await registerExample(h, 'perception', {
    'https://data.example.test': data.url,
    'https://staging.example.test': staging.url,
  });

  const schedules = (await (await h.fetch('/v1/schedules')).json()) as { items: Array<Record<string, unknown>> };
  assert.equal(schedules.items.length, 1);
  assert.equal(schedules.items[0]?.next_fire_time, '2026-03-01T06:00:00.000Z');

  await clock.set(Date.parse('2026-03-01T05:59:59Z'));
  assert.equal((await h.server.workflows.listRuns({ limit: 10 })).items.length, 0, 'nothing before the fire');
  await clock.set(Date.parse('2026-03-01T06:00:00Z'));
  const runs = (await h.server.workflows.listRuns({ limit: 10 })).items;
  assert.equal(runs.length, 1, 'one run per fire');
  const runId = runs[0]?.id as string;

  const waiting = await settledRun(h, runId);
  assert.equal(waiting.status, 'awaiting_approval', JSON.stringify(waiting.steps.map((s) => [s.name, s.error])));
  assert.deepEqual(data.requests.map((r) => r.path).sort(), SOURCES.map((s) => `/${s}.json`).sort());
  // The pool of one: the local model never served two extractions at once.
  assert.equal(llm.requests.length, 5);
  for (const [i, a] of llm.requests.entries()) {
    for (const b of llm.requests.slice(i + 1)) assert.equal(overlaps(a, b), false, 'two llm calls overlapped');
  }
  assert.equal(staging.requests.length, 0, 'nothing is posted before the review');
  const digest = waiting.steps.find((s) => s.name === 'digest')?.output?.response ?? '';
  for (const source of SOURCES) assert.match(digest, new RegExp(`${source}: one; ${source}: two`));

  const approved = await h.fetch(`/v1/runs/${runId}/steps/review/approve`, { method: 'POST', json: {} });
  assert.equal(approved.status, 200, await approved.text());
  const done = await h.server.workflows.waitRun(runId, 60_000);
  assert.equal(done.status, 'completed', JSON.stringify(done.steps.map((s) => [s.name, s.error])));
  assert.equal(staging.requests.length, 1);
  const posted = JSON.parse(staging.requests[0]?.body ?? '{}') as { source: string; window: string; digest: string };
  assert.deepEqual([posted.source, posted.window, posted.digest], ['perception', '6h', digest]);
  assert.deepEqual(filesContaining(h.dataDir, [STAGING_TOKEN]), []);

  // The next fire is six hours on; the one just run is not run again after a restart of the clock.
  await clock.set(Date.parse('2026-03-01T06:30:00Z'));
  assert.equal((await h.server.workflows.listRuns({ limit: 10 })).items.length, 1);
});
