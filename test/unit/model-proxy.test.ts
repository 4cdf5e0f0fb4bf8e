import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { ModelProxy, type ModelProxyOptions } from '../../src/model/model-proxy.ts';
import { SseScanner } from '../../src/model/sse-scanner.ts';
import { tempDir } from '../fixtures/harness.ts';

type Handler = (req: http.IncomingMessage, body: Buffer, res: http.ServerResponse) => void;

/** A local upstream answering with `handler`, behind a fresh proxy; every request it got is kept. */
async function withProxy(
  handler: Handler,
  run: (ctx: {
    proxy: ModelProxy;
    seen: Array<{ url: string; key: string | undefined }>;
    connections: () => number;
  }) => Promise<void>,
  options: ModelProxyOptions = {},
): Promise<void> {
  const seen: Array<{ url: string; key: string | undefined }> = [];
  const upstream = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of req) chunks.push(chunk);
    } catch {
      return; // the proxy cut the upload off (a body over the cap)
    }
    seen.push({ url: req.url ?? '', key: req.headers['x-api-key'] as string | undefined });
    handler(req, Buffer.concat(chunks), res);
  });
  let connections = 0;
  upstream.on('connection', () => connections++);
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const proxy = await ModelProxy.start(
    { baseUrl: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`, apiKey: 'sk-ant-real-operator-key' },
    options,
  );
  try {
    await run({ proxy, seen, connections: () => connections });
  } finally {
    await proxy.close();
    upstream.closeAllConnections();
    await new Promise<void>((r) => upstream.close(() => r()));
  }
}

function call(env: Record<string, string>, urlPath = '/v1/messages', init: RequestInit = {}): Promise<Response> {
  return fetch(`${env.ANTHROPIC_BASE_URL}${urlPath}`, {
    method: 'POST',
    body: '{"model":"claude-opus-4-5","messages":[]}',
    ...init,
    headers: { 'x-api-key': env.ANTHROPIC_API_KEY!, 'content-type': 'application/json', ...init.headers },
  });
}

interface Usage {
  input_tokens?: number;
  output_tokens?: number;
  cache_read_input_tokens?: number;
  cache_creation_input_tokens?: number;
}

/** A Messages API stream as the real API writes it, with a long text delta between the usage events. */
function sseBody(
  model: string,
  start: Usage,
  outputTokens: number,
  toolNames: string[] = [],
  textLength = 100,
): string {
  const event = (name: string, data: unknown) => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
  let body = event('message_start', {
    type: 'message_start',
    message: { id: 'msg_1', type: 'message', role: 'assistant', model, content: [], usage: start },
  });
  body += event('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text' } });
  // Multi-byte characters and text that looks like usage, inside a delta the meter must not read.
  const text = `héllo ✓ "usage":{"output_tokens":999999} event: message_delta ${'x'.repeat(textLength)}`;
  body += event('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } });
  body += event('content_block_stop', { type: 'content_block_stop', index: 0 });
  toolNames.forEach((name, i) => {
    const block = { type: 'tool_use', id: `toolu_${i}`, name, input: {} };
    body += event('content_block_start', { type: 'content_block_start', index: i + 1, content_block: block });
  });
  body += event('message_delta', {
    type: 'message_delta',
    delta: { stop_reason: 'end_turn' },
    usage: { output_tokens: outputTokens },
  });
  body += event('message_stop', { type: 'message_stop' });
  return body;
}

const sse =
  (body: string): Handler =>
  (_req, _body, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end(body);
  };

test('the model proxy swaps a live task token for the real key, on the Messages API only', async () => {
  await withProxy(
    (_req, _body, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'),
    async ({ proxy, seen }) => {
      const access = proxy.issue();
      const env = access.env;
      assert.equal((await call(env, '/v1/messages?beta=true')).status, 200);
      assert.deepEqual(seen, [{ url: '/v1/messages?beta=true', key: 'sk-ant-real-operator-key' }]);
      for (const [p, method] of [
        ['/v1/models', 'GET'],
        ['/v1/files', 'POST'],
        ['/v1/messages/batches', 'POST'],
        ['/v1/messagesX', 'POST'],
      ] as const) {
        const res = await call(env, p, method === 'GET' ? { method, body: null } : { method });
        assert.equal(res.status, 403, `${method} ${p}`);
      }
      assert.equal((await call({ ...env, ANTHROPIC_API_KEY: 'sy-task-guessed' })).status, 401);
      access.release();
      assert.equal((await call(env)).status, 401, 'a released token is dead');
      assert.equal(seen.length, 1, 'nothing refused reached the upstream');
    },
  );
});

test('a stream split at every awkward boundary is passed through byte for byte and metered once', async () => {
  const start = { input_tokens: 1000, cache_read_input_tokens: 4000, output_tokens: 1 };
  const short = sseBody('claude-opus-4-5', start, 250, ['Bash']);
  const long = sseBody('claude-opus-4-5', start, 250, ['Bash'], 70_000);
  const crlf = (text: string) => Buffer.from(text.replaceAll('\n', '\r\n'));
  // Cuts inside "event:", inside a multi-byte character, between \r and \n, inside a usage number.
  const cutAwkwardly = (bytes: Buffer) => {
    const cuts = [3, bytes.indexOf('é') + 1, bytes.indexOf('\r\n') + 1, bytes.indexOf('1000') + 2, bytes.length - 40];
    const at = [0, ...cuts.filter((c) => c > 0).sort((a, b) => a - b)];
    return at.map((from, i) => bytes.subarray(from, at[i + 1] ?? bytes.length));
  };
  const splits = [
    { name: 'one byte at a time', pieces: [...crlf(short)].map((b) => Buffer.from([b])) },
    { name: 'awkward cuts, CRLF, a 70 kB delta', pieces: cutAwkwardly(crlf(long)) },
    { name: 'awkward cuts, LF, a 70 kB delta', pieces: cutAwkwardly(Buffer.from(long)) },
  ];
  for (const split of splits) {
    await withProxy(
      (_req, _body, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        // One write per piece, each flushed as its own chunk before the next.
        const next = (i: number): void => {
          if (i === split.pieces.length) {
            res.end();
            return;
          }
          res.write(split.pieces[i], () => setImmediate(() => next(i + 1)));
        };
        next(0);
      },
      async ({ proxy }) => {
        const access = proxy.issue();
        const res = await call(access.env);
        const bytes = Buffer.concat(split.pieces);
        assert.ok(Buffer.from(await res.arrayBuffer()).equals(bytes), `${split.name}: the client got every byte`);
        const usage = access.usage();
        // Opus 4.5: $5 / M input, $25 / M output, $0.50 / M cache read.
        const cost = (1000 * 5 + 250 * 25 + 4000 * 0.5) / 1e6;
        assert.deepEqual(
          { ...usage, cost_usd: Number(usage.cost_usd.toFixed(12)) },
          {
            input_tokens: 1000,
            output_tokens: 250,
            cache_read_input_tokens: 4000,
            cache_creation_input_tokens: 0,
            cost_usd: cost,
            calls: 1,
          },
          split.name,
        );
      },
    );
  }
});

test('the SSE scanner reads the same events wherever a stream is cut in two', () => {
  const bytes = Buffer.from(
    sseBody('claude-opus-4-5', { input_tokens: 3 }, 9, ['WebSearch'], 500).replaceAll('\n', '\r\n'),
  );
  const read = (pieces: Buffer[]) => {
    const events: string[] = [];
    const scanner = new SseScanner(['message_start', 'message_delta', 'content_block_start'], (event, data) =>
      events.push(`${event} ${data}`),
    );
    for (const piece of pieces) scanner.feed(piece);
    return events;
  };
  const whole = read([bytes]);
  assert.deepEqual(
    whole.map((e) => e.split(' ')[0]),
    ['message_start', 'content_block_start', 'content_block_start', 'message_delta'],
  );
  for (let at = 1; at < bytes.length; at++) {
    assert.deepEqual(read([bytes.subarray(0, at), bytes.subarray(at)]), whole, `cut at byte ${at}`);
  }
  assert.deepEqual(read([...bytes].map((b) => Buffer.from([b]))), whole, 'one byte at a time');
  const long = Buffer.from(sseBody('claude-opus-4-5', { input_tokens: 3 }, 9, ['WebSearch'], 300_000));
  const pieces = [];
  for (let at = 0; at < long.length; at += 7) pieces.push(long.subarray(at, at + 7));
  assert.deepEqual(read(pieces), whole, 'a 300 kB delta in 7-byte pieces is skipped, the rest read');
});

test('a non-streaming response is metered from its usage; count_tokens and upstream errors are free', async () => {
  let failNext = false;
  await withProxy(
    (req, _body, res) => {
      if (req.url?.startsWith('/v1/messages/count_tokens')) {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"input_tokens":42}');
      } else if (failNext) {
        res.writeHead(529, { 'content-type': 'application/json' });
        res.end('{"type":"error","error":{"type":"overloaded_error","message":"busy"}}');
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        const usage = { input_tokens: 20_000, output_tokens: 10_000, cache_creation_input_tokens: 8_000 };
        res.end(JSON.stringify({ type: 'message', model: 'claude-haiku-4-5', content: [], usage }));
      }
    },
    async ({ proxy, seen }) => {
      const access = proxy.issue({ maxTurns: 1 });
      assert.equal((await call(access.env, '/v1/messages/count_tokens')).status, 200);
      failNext = true;
      assert.equal((await call(access.env)).status, 529, 'the upstream error reaches the client');
      failNext = false;
      assert.equal((await call(access.env)).status, 200, 'neither count_tokens nor the error used the one turn');
      const usage = access.usage();
      // Haiku 4.5: $1 / M input, $5 / M output, $1.25 / M cache write.
      assert.equal(usage.cost_usd.toFixed(9), ((20_000 * 1 + 10_000 * 5 + 8_000 * 1.25) / 1e6).toFixed(9));
      assert.equal(usage.calls, 1);
      assert.equal((await call(access.env)).status, 400, 'the second turn is refused');
      assert.equal(seen.length, 3);
    },
  );
});

test('calls past max_turns are refused before the upstream; WebSearch and WebFetch uses earn their call', async () => {
  let tools: string[] = [];
  let big = false;
  await withProxy(
    (_req, _body, res) =>
      sse(sseBody('claude-sonnet-4-5', { input_tokens: big ? 150_000 : 10 }, 5, tools))(_req, _body, res),
    async ({ proxy, seen }) => {
      const limited = proxy.issue({ maxTurns: 2 });
      const other = proxy.issue({ maxTurns: 2 });
      assert.equal((await call(limited.env)).status, 200);
      assert.equal((await call(limited.env)).status, 200);
      const refused = await call(limited.env);
      assert.equal(refused.status, 400);
      assert.deepEqual(await refused.json(), {
        type: 'error',
        error: { type: 'invalid_request_error', message: "the task's limit of 2 turns is reached" },
      });
      assert.equal(seen.length, 2, 'the refused call never reached the upstream');
      assert.equal(limited.usage().calls, 2);
      assert.equal(limited.usage().refused, 'max_turns');
      // Positive control: another task's token has its own turns.
      assert.equal((await call(other.env)).status, 200);
      assert.equal(other.usage().refused, undefined);

      const searching = proxy.issue({ maxTurns: 1 });
      tools = ['WebSearch', 'WebFetch', 'Bash'];
      assert.equal((await call(searching.env)).status, 200, 'turn 1 asks for two model-calling tools');
      tools = [];
      assert.equal((await call(searching.env)).status, 200, "WebSearch's own call");
      assert.equal((await call(searching.env)).status, 200, "WebFetch's own call");
      assert.equal((await call(searching.env)).status, 400, 'Bash earns no call');

      // A prompt large enough to be compacted earns the compaction's call.
      const compacting = proxy.issue({ maxTurns: 1 });
      tools = [];
      big = true;
      assert.equal((await call(compacting.env)).status, 200);
      big = false;
      assert.equal((await call(compacting.env)).status, 200, 'the compaction call');
      assert.equal((await call(compacting.env)).status, 400);
    },
  );
});

test('once a reply pushes the cost past max_budget_usd the next call is refused', async () => {
  let usage: Usage = { input_tokens: 1000 };
  await withProxy(
    (_req, _body, res) => sse(sseBody('claude-opus-4-5', usage, 10))(_req, _body, res),
    async ({ proxy, seen }) => {
      const access = proxy.issue({ maxBudgetUsd: 1 });
      assert.equal((await call(access.env)).status, 200);
      assert.equal((await call(access.env)).status, 200, 'positive control: under budget, calls go through');
      usage = { input_tokens: 200_000 }; // $1 of Opus 4.5 input
      assert.equal((await call(access.env)).status, 200, 'the call that spends the budget is answered');
      const refused = await call(access.env);
      assert.equal(refused.status, 400);
      assert.match(((await refused.json()) as { error: { message: string } }).error.message, /budget of \$1 is spent/);
      assert.equal(seen.length, 3);
      assert.equal(access.usage().refused, 'budget');
      assert.equal(access.usage().input_tokens, 202_000);
      assert.ok(access.usage().cost_usd >= 1);
    },
  );
});

test('a successful reply whose usage cannot be read spends a budget; without a budget it passes', async () => {
  await withProxy(
    (_req, _body, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'),
    async ({ proxy, seen }) => {
      const budgeted = proxy.issue({ maxBudgetUsd: 5 });
      const free = proxy.issue();
      for (const access of [budgeted, free]) assert.equal((await call(access.env)).status, 200);
      assert.equal((await call(budgeted.env)).status, 400, 'its cost is unknown: the budget errs safe');
      assert.equal((await call(free.env)).status, 200);
      assert.equal(seen.length, 3);
    },
  );
});

test('a model no price rule names is charged at the dearest rule', async () => {
  let model = 'claude-unheard-of-9';
  await withProxy(
    (req, body, res) => sse(sseBody(model, { input_tokens: 1_000_000 }, 0))(req, body, res),
    async ({ proxy }) => {
      const unknown = proxy.issue();
      await (await call(unknown.env)).arrayBuffer();
      assert.equal(unknown.usage().cost_usd, 15, "Opus 4.1's $15 / M input");
      model = 'claude-sonnet-4-5';
      const named = proxy.issue();
      await (await call(named.env)).arrayBuffer();
      assert.equal(named.usage().cost_usd, 6, "positive control: Sonnet's long-context $6 / M input");
    },
  );
});

test('request bodies over 32 MiB are refused with 413, declared or streamed', async () => {
  await withProxy(sse(sseBody('claude-opus-4-5', { input_tokens: 1 }, 1)), async ({ proxy, seen }) => {
    const access = proxy.issue();
    const big = Buffer.alloc(32 * 1024 * 1024 + 1, 0x20);
    assert.equal((await call(access.env, '/v1/messages', { body: big })).status, 413);
    const streamed = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 33; i++) controller.enqueue(new Uint8Array(1024 * 1024).fill(0x20));
        controller.close();
      },
    });
    const res = await call(access.env, '/v1/messages', { body: streamed, duplex: 'half' } as RequestInit);
    assert.equal(res.status, 413);
    assert.equal(seen.length, 0, 'no oversized body reached the upstream');
    assert.equal((await call(access.env)).status, 200, 'positive control: a normal request passes');
  });
});

test('a task may have at most 8 model calls in flight', async () => {
  const waiting: http.ServerResponse[] = [];
  let arrived: () => void = () => {};
  await withProxy(
    (_req, _body, res) => {
      waiting.push(res);
      if (waiting.length === 8) arrived();
    },
    async ({ proxy }) => {
      const access = proxy.issue();
      const all8 = new Promise<void>((r) => {
        arrived = r;
      });
      const calls = Array.from({ length: 8 }, () => call(access.env));
      await all8;
      assert.equal((await call(access.env)).status, 429, 'the ninth at once is refused');
      const other = call(proxy.issue().env); // positive control: another task's token is not
      const answer = sse(sseBody('claude-opus-4-5', { input_tokens: 1 }, 1));
      for (const res of waiting.splice(0)) answer({} as never, Buffer.alloc(0), res);
      for (const res of await Promise.all(calls)) assert.equal(res.status, 200);
      assert.equal(access.usage().calls, 8);
      while (waiting.length === 0) await new Promise((r) => setImmediate(r));
      answer({} as never, Buffer.alloc(0), waiting[0]!);
      assert.equal((await other).status, 200);
    },
  );
});

test('the proxy also serves on a unix socket of mode 0600, removed on close', async () => {
  const dir = tempDir('switchyard-proxy-');
  const socketPath = path.join(dir, 'model.sock');
  try {
    await withProxy(
      sse(sseBody('claude-opus-4-5', { input_tokens: 7 }, 3)),
      async ({ proxy, seen }) => {
        assert.equal(fs.statSync(socketPath).mode & 0o777, 0o600);
        const access = proxy.issue();
        const over = (key: string) =>
          new Promise<{ status: number; body: string }>((resolve, reject) => {
            const req = http.request(
              { socketPath, path: '/v1/messages', method: 'POST', headers: { 'x-api-key': key } },
              async (res) => {
                let body = '';
                for await (const chunk of res) body += chunk;
                resolve({ status: res.statusCode ?? 0, body });
              },
            );
            req.on('error', reject);
            req.end('{}');
          });
        assert.equal((await over('sy-task-guessed')).status, 401, 'the socket checks the token too');
        const ok = await over(access.env.ANTHROPIC_API_KEY!);
        assert.equal(ok.status, 200);
        assert.equal(access.usage().input_tokens, 7, 'and meters what passes through it');
        assert.equal(seen.length, 1);
      },
      { socketPath },
    );
    assert.equal(fs.existsSync(socketPath), false, 'close() removed the socket');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('successive calls reuse one keep-alive connection to the upstream', async () => {
  await withProxy(sse(sseBody('claude-opus-4-5', { input_tokens: 1 }, 1)), async ({ proxy, seen, connections }) => {
    const access = proxy.issue();
    for (let i = 0; i < 4; i++) await (await call(access.env)).arrayBuffer();
    assert.equal(seen.length, 4);
    assert.equal(connections(), 1);
  });
});
