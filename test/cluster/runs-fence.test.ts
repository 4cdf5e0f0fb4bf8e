/**
 * The adoption fence, end to end in one engine: while a step of a run is in flight, another holder
 * adopts the run in the store (as a worker does that got the run's job after this one's lease ran out).
 * When the step then finishes here, nothing of it is written: the run stays as the store had it, for
 * its new holder to resume; a later action re-adopts it. Positive control: an unfenced run of the same workflow completes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openStore } from '../../src/store/open-store.ts';
import { json, startEngine, startService } from '../scenarios/kit.ts';

test('a holder another worker took the run from writes nothing', async (t) => {
  const release: Array<() => void> = [];
  const api = await startService((req, res) => {
    if (req.path === '/slow') release.push(() => json(res, 200, { ok: true }));
    else json(res, 200, { ok: true });
  });
  const h = await startEngine();
  const other = await openStore({ dataDir: h.dataDir, databaseUrl: undefined });
  t.after(async () => {
    await h.close();
    await other.store.close();
    await api.close();
  });
  const wf = h.server.workflows;
  await wf.registerWorkflow(`
name: fenced
steps:
  slow: { worker: http, url: "${api.url}/slow" }
  after: { worker: http, depends_on: [slow], url: "${api.url}/after" }
`);
  const taken = (await wf.startRun('fenced', {})).run;
  const kept = (await wf.startRun('fenced', {})).run;
  await api.waitFor(2);
  const before = await other.workflows.getRun(taken.id);
  const adoption = await other.workflows.adoptRun(taken.id);
  assert.ok(adoption && before && adoption.holders === before.holders + 1);
  for (const answer of release.splice(0)) answer();

  const done = await wf.waitRun(kept.id, 30_000);
  assert.equal(done.status, 'completed', JSON.stringify(done.error));
  // The fenced run: its step's completion was refused, and this engine let it go.
  const deadline = Date.now() + 10_000;
  while (api.requests.filter((r) => r.path === '/after').length < 1 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const stale = await wf.getRun(taken.id);
  assert.equal(stale.status, 'running');
  assert.equal(stale.steps.find((s) => s.name === 'slow')?.status, 'running');
  assert.equal(stale.steps.find((s) => s.name === 'after')?.status, 'pending');
  assert.equal(api.requests.filter((r) => r.path === '/after').length, 1, 'only the unfenced run went on');
  // A person's action on it is a command for whoever takes the run's job: here (the "other" holder had
  // no job) this engine again, which adopts it anew, applies the cancel and answers with its outcome.
  // The other holder lets go cleanly first (else two holders in a row lost it: the crash-loop limit).
  assert.equal(await other.workflows.releaseRun(taken.id, adoption.adoption, null), true);
  const cancelled = await wf.cancelRun(taken.id);
  assert.equal(cancelled.status, 'failed');
  assert.equal(cancelled.error?.kind, 'cancelled');
  assert.equal((await other.workflows.getRun(taken.id))?.holders, 1);
  assert.deepEqual(await other.workflows.pendingRunCommands(taken.id), []);
});
