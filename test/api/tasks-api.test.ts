import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SwitchyardClient } from '../../src/client/client.ts';
import type { Script } from '../../src/model/scripted-model.ts';
import { startHarness } from '../fixtures/harness.ts';

test('Idempotency-Key: the same key and body return the same task; another body → 409', async () => {
  const h = await startHarness();
  try {
    const send = (body: unknown) =>
      h.fetch('/v1/tasks', { method: 'POST', json: body, headers: { 'idempotency-key': 'build-42' } });
    const first = await send({ prompt: 'once' });
    assert.equal(first.status, 201);
    const again = await send({ prompt: 'once' });
    assert.equal(again.status, 200);
    const a = (await first.json()) as { id: string };
    const b = (await again.json()) as { id: string };
    assert.equal(a.id, b.id);
    const reordered = await h.fetch('/v1/tasks', {
      method: 'POST',
      headers: { 'idempotency-key': 'build-43', 'content-type': 'application/json' },
      body: '{"prompt":"twice","timeout":60000}',
    });
    const reorderedAgain = await h.fetch('/v1/tasks', {
      method: 'POST',
      headers: { 'idempotency-key': 'build-43', 'content-type': 'application/json' },
      body: '{"timeout":60000,"prompt":"twice"}',
    });
    assert.equal(reorderedAgain.status, 200, 'the same request with its keys in another order');
    assert.equal(((await reorderedAgain.json()) as { id: string }).id, ((await reordered.json()) as { id: string }).id);
    const other = await send({ prompt: 'different' });
    assert.equal(other.status, 409);
    const list = (await (await h.fetch('/v1/tasks')).json()) as { items: unknown[] };
    assert.equal(list.items.length, 2);
  } finally {
    await h.close();
  }
});

test('list: newest first, filtered by status, cursor pages without overlap', async () => {
  const h = await startHarness();
  try {
    const client = new SwitchyardClient({ baseUrl: h.url });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await client.submit({ prompt: `t${i}` })).id);
    for (const id of ids) await client.wait(id);
    const page1 = await client.list({ limit: 2 });
    assert.deepEqual(
      page1.items.map((t) => t.id),
      [ids[4], ids[3]],
    );
    const page2 = await client.list({ limit: 2, cursor: page1.next_cursor! });
    const page3 = await client.list({ limit: 2, cursor: page2.next_cursor! });
    assert.deepEqual(
      [...page2.items, ...page3.items].map((t) => t.id),
      [ids[2], ids[1], ids[0]],
    );
    assert.equal(page3.next_cursor, null);
    assert.equal((await client.list({ status: 'failed' })).items.length, 0);
    assert.equal((await client.list({ status: 'completed' })).items.length, 5);
  } finally {
    await h.close();
  }
});

test('long-poll returns as soon as the task ends, and returns the unfinished task when wait runs out', async () => {
  const h = await startHarness();
  try {
    const client = new SwitchyardClient({ baseUrl: h.url });
    const t = await client.submit({ prompt: 'x' });
    const done = await client.get(t.id, 30);
    assert.equal(done.status, 'completed');
  } finally {
    await h.close();
  }
  const hang = await startHarness({ script: () => ({ hang: true }) });
  try {
    const client = new SwitchyardClient({ baseUrl: hang.url });
    const t = await client.submit({ prompt: 'x', timeout: 60000 });
    const still = await client.get(t.id, 1);
    assert.ok(still.status === 'running' || still.status === 'queued');
    await client.cancel(t.id);
  } finally {
    await hang.close();
  }
});

test('SSE streams every agent message and resumes after Last-Event-ID without gaps or repeats', async () => {
  const script: Script = (req) =>
    req.turnIndex === 0
      ? { text: 'looking', tool_use: { name: 'Glob', input: { pattern: '*' } } }
      : { text: 'found it' };
  const h = await startHarness({ script });
  try {
    const client = new SwitchyardClient({ baseUrl: h.url });
    const t = await client.submit({ prompt: 'x', allowed_tools: ['Glob'] });
    const all = [];
    for await (const e of client.events(t.id)) all.push(e);
    const types = all.map((e) => e.type);
    assert.equal(types[0], 'status');
    assert.ok(types.includes('assistant') && types.includes('user') && types.includes('result'), types.join());
    assert.deepEqual((all.at(-1)!.data as { status: string }).status, 'completed');
    assert.deepEqual(
      all.map((e) => e.id),
      all.map((_, i) => i + 1),
    );
    const resumed = [];
    for await (const e of client.events(t.id, { afterId: 3 })) resumed.push(e);
    assert.deepEqual(
      resumed.map((e) => e.id),
      all.slice(3).map((e) => e.id),
    );
  } finally {
    await h.close();
  }
});

test('a follow-up message resumes the same Claude Code session under the same boundary', async () => {
  const script: Script = (req) => ({ text: `turn ${req.turnIndex}: ${req.lastUserText.slice(0, 40)}` });
  const h = await startHarness({ script });
  try {
    const client = new SwitchyardClient({ baseUrl: h.url });
    const t = await client.submit({ prompt: 'first question', allowed_tools: ['Read'] });
    const first = await client.wait(t.id);
    assert.equal(first.response, 'turn 0: first question');
    const queued = await client.sendMessage(t.id, 'second question');
    assert.equal(queued.id, t.id);
    const second = await client.wait(t.id);
    assert.equal(second.status, 'completed');
    assert.equal(second.response, 'turn 1: second question');
    // The model saw the earlier turn: the same conversation, not a fresh one.
    const last = h.model.requests.at(-1)!;
    assert.ok(JSON.stringify(last.body.messages).includes('first question'));
    assert.deepEqual(
      last.body.tools?.map((x) => x.name).filter((n) => n === 'Read'),
      ['Read'],
    );
  } finally {
    await h.close();
  }
});

test('output_schema → structured output in result.structured_output', async () => {
  const script: Script = (req) =>
    req.turnIndex === 0 ? { tool_use: { name: 'StructuredOutput', input: { issues: ['a', 'b'] } } } : { text: 'done' };
  const h = await startHarness({ script });
  try {
    const client = new SwitchyardClient({ baseUrl: h.url });
    const schema = {
      type: 'object',
      properties: { issues: { type: 'array', items: { type: 'string' } } },
      required: ['issues'],
    };
    const t = await client.submit({ prompt: 'extract', output_schema: schema });
    const done = await client.wait(t.id);
    assert.equal(done.status, 'completed', JSON.stringify(done.error));
    assert.deepEqual(done.result?.structured_output, { issues: ['a', 'b'] });
  } finally {
    await h.close();
  }
});

test('/metrics counts finished tasks by status and kind', async () => {
  const h = await startHarness();
  try {
    const client = new SwitchyardClient({ baseUrl: h.url });
    await client.wait((await client.submit({ prompt: 'x' })).id);
    const text = await (await h.fetch('/metrics')).text();
    assert.match(text, /switchyard_tasks_finished_total\{status="completed",kind=""\} 1/);
    assert.match(text, /switchyard_tasks_queued 0/);
  } finally {
    await h.close();
  }
});

test('/openapi.json describes the API and /docs renders it', async () => {
  const h = await startHarness();
  try {
    const doc = (await (await h.fetch('/openapi.json')).json()) as {
      openapi: string;
      paths: Record<string, unknown>;
      components: any;
    };
    assert.equal(doc.openapi, '3.1.0');
    for (const p of ['/execute', '/sessions/{id}', '/v1/tasks', '/v1/tasks/{id}/events']) assert.ok(doc.paths[p], p);
    assert.ok(doc.components.schemas.TaskRequest.properties.allowed_tools);
    const page = await h.fetch('/docs');
    assert.match(await page.text(), /Switchyard API/);
  } finally {
    await h.close();
  }
});
