/**
 * Warm spares (warm-pool.ts): a spare serves one task of its shape, a task of another shape starts
 * cold, spares are retired when idle and not started when memory is short. That the warm path keeps
 * the boundary is boundary-warm.test.ts.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { SwitchyardClient } from '../../src/client/client.ts';
import { startHarness } from '../fixtures/harness.ts';

type Done = { status: string; result: { admission: { warm: boolean } } };

test('a spare serves one task of its shape; the next is warm again; another shape starts cold', async () => {
  const h = await startHarness({ script: (req) => ({ text: `ok ${req.prompt}` }), env: { SWITCHYARD_WARM: '1' } });
  try {
    const client = new SwitchyardClient({ baseUrl: h.url });
    const run = async (prompt: string, tools: string[]) => {
      const done = (await client.wait((await client.submit({ prompt, allowed_tools: tools })).id)) as unknown as Done;
      assert.equal(done.status, 'completed');
      await h.server.warm.settled();
      return done.result.admission.warm;
    };
    assert.equal(await run('first', ['Read']), false, 'nothing was parked before the first task');
    assert.equal(h.server.warm.parked, 1);
    assert.equal(await run('second', ['Read']), true);
    assert.equal(await run('third', ['Read']), true, 'the claimed spare was replaced');
    assert.equal(await run('other shape', ['Read', 'Grep']), false);
    // Each task got its own answer: a spare never carried one task's conversation into the next.
    const prompts = h.model.requests.map((r) => r.prompt);
    assert.deepEqual(prompts, ['first', 'second', 'third', 'other shape']);
  } finally {
    await h.close();
  }
});

test('an idle spare is retired, and its process and config dir are gone', async () => {
  const h = await startHarness({
    script: () => ({ text: 'ok' }),
    env: { SWITCHYARD_WARM: '1', SWITCHYARD_WARM_IDLE: '1000' },
  });
  try {
    const client = new SwitchyardClient({ baseUrl: h.url });
    await client.wait((await client.submit({ prompt: 'x' })).id);
    await h.server.warm.settled();
    assert.equal(h.server.warm.parked, 1, 'the control: a spare was parked');
    const spareDirs = () => fs.readdirSync(`${h.dataDir}/claude`).filter((name) => name.startsWith('spare-'));
    assert.equal(spareDirs().length, 1);
    // Retiring ends with the config dir's removal, once the process is gone.
    for (let i = 0; i < 200 && spareDirs().length > 0; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(h.server.warm.parked, 0);
    assert.deepEqual(spareDirs(), []);
  } finally {
    await h.close();
  }
});

test('SWITCHYARD_WARM=0 parks nothing', async () => {
  const h = await startHarness({ script: () => ({ text: 'ok' }), env: { SWITCHYARD_WARM: '0' } });
  try {
    const client = new SwitchyardClient({ baseUrl: h.url });
    const done = (await client.wait((await client.submit({ prompt: 'x' })).id)) as unknown as Done;
    await h.server.warm.settled();
    assert.equal(done.result.admission.warm, false);
    assert.equal(h.server.warm.parked, 0);
  } finally {
    await h.close();
  }
});
