/**
 * People act on a failed run at the same moment: two redrives of one dead letter, a redrive and a
 * discard, two reruns. Exactly one of them wins; the others are a `conflict`, the step runs once more
 * (one `running` transition) and the DLQ entry ends in the state of the action that won.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RunEvent } from '../../../src/workflow/workflow-api.ts';
import { json, startScenario, startService } from '../kit.ts';

test('concurrent redrive, discard and rerun of one failed run: one wins, the step runs once', async (t) => {
  let broken = true;
  const api = await startService((_req, res) => (broken ? json(res, 500, { error: 'down' }) : json(res, 200, {})));
  const { wf } = await startScenario(t, import.meta.dirname, api);

  const failedRun = async () => {
    broken = true;
    const { run } = await wf.startRun('dlq-races', {});
    assert.equal((await wf.waitRun(run.id, 30_000)).status, 'failed');
    const entry = (await wf.listDlq({ status: 'open', limit: 10 })).items.find((e) => e.run_id === run.id);
    assert.ok(entry);
    broken = false;
    return { runId: run.id, entryId: entry.id };
  };
  const outcome = (results: PromiseSettledResult<unknown>[]) => {
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1, JSON.stringify(results));
    for (const r of results) if (r.status === 'rejected') assert.equal(r.reason.kind, 'conflict');
  };
  const startsAfter = (events: RunEvent[], seq: number) =>
    events.filter((e) => e.seq > seq && e.type === 'step' && (e.data as { status?: string }).status === 'running')
      .length;

  // Two redrives of one entry.
  {
    const { runId, entryId } = await failedRun();
    const seq = (await wf.runEvents(runId, 0)).at(-1)!.seq;
    outcome(await Promise.allSettled([wf.retryDlq(entryId), wf.retryDlq(entryId)]));
    assert.equal((await wf.waitRun(runId, 30_000)).status, 'completed');
    assert.equal(startsAfter(await wf.runEvents(runId, 0), seq), 1, 'publish ran once more, not twice');
    assert.equal((await wf.getDlq(entryId)).status, 'retried');
  }
  // A redrive and a discard of one entry: the entry's state is the winner's.
  {
    const { runId, entryId } = await failedRun();
    const [redrive, discard] = await Promise.allSettled([wf.retryDlq(entryId), wf.discardDlq(entryId)]);
    outcome([redrive, discard]);
    const run = await wf.waitRun(runId, 30_000);
    const entry = await wf.getDlq(entryId);
    if (redrive.status === 'fulfilled') assert.deepEqual([entry.status, run.status], ['retried', 'completed']);
    else assert.deepEqual([entry.status, run.status], ['discarded', 'failed']);
  }
  // Two reruns of one run.
  {
    const { runId } = await failedRun();
    const seq = (await wf.runEvents(runId, 0)).at(-1)!.seq;
    outcome(await Promise.allSettled([wf.rerunFrom(runId), wf.rerunFrom(runId)]));
    assert.equal((await wf.waitRun(runId, 30_000)).status, 'completed');
    assert.equal(startsAfter(await wf.runEvents(runId, 0), seq), 1, 'publish ran once more, not twice');
  }
});
