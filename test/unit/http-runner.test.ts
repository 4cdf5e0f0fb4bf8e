/** The http worker against real servers on 127.0.0.1 (allow-listed: the SSRF guard has its own suite). */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { AppError, type ErrorKind } from '../../src/errors.ts';
import { type HttpStepInput, runHttp } from '../../src/runners/http.ts';
import type { RunContext, RunnerEvent } from '../../src/runners/runner.ts';
import { parseAllowList } from '../../src/runners/ssrf.ts';

const options = { allow: parseAllowList('127.0.0.1') };

function context(signal = new AbortController().signal): RunContext & { events: RunnerEvent[] } {
  const events: RunnerEvent[] = [];
  return { signal, emit: (event) => events.push(event), events };
}

async function listen(handler: RequestListener): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function bodyOf(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString();
}

async function failsWith(input: HttpStepInput, kind: ErrorKind, ctx: RunContext = context()): Promise<AppError> {
  let caught: unknown;
  await runHttp(input, ctx, options).catch((err: unknown) => {
    caught = err;
  });
  assert.ok(caught instanceof AppError, `expected an AppError, got ${String(caught)}`);
  assert.equal(caught.kind, kind, caught.message);
  return caught;
}

describe('http worker', () => {
  let svc: { server: Server; url: string };
  let other: { server: Server; url: string };
  /** Resolves with each request that reaches /hang, which never answers. */
  const hung: Array<(req: IncomingMessage) => void> = [];

  before(async () => {
    other = await listen(async (req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ method: req.method, authorization: req.headers.authorization ?? null }));
    });
    svc = await listen(async (req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const body = await bodyOf(req);
      switch (url.pathname) {
        case '/json':
          res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': 'sid=secret', 'x-request-id': 'r1' });
          res.end(JSON.stringify({ items: [1, 2] }));
          return;
        case '/echo':
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify({ method: req.method, type: req.headers['content-type'] ?? null, body }));
          return;
        case '/status':
          res.writeHead(Number(url.searchParams.get('code')), { 'content-type': 'text/plain' });
          res.end(`failed; you sent ${req.headers.authorization ?? 'nothing'}`);
          return;
        case '/big':
          if (url.searchParams.has('chunked')) {
            res.write('x'.repeat(800));
            res.end('x'.repeat(800));
          } else res.end('x'.repeat(1600));
          return;
        case '/redirect':
          res.writeHead(Number(url.searchParams.get('code') ?? 302), {
            location: url.searchParams.get('to') ?? '/echo',
          });
          res.end();
          return;
        case '/hang':
          for (const notify of hung) notify(req);
          return;
        default:
          res.writeHead(404).end('no such page');
      }
    });
  });
  after(() => {
    svc.server.closeAllConnections();
    svc.server.close();
    other.server.close();
  });

  const nextHang = () => new Promise<IncomingMessage>((resolve) => hung.push(resolve));

  test('GET of JSON fills data and a safe subset of headers', async () => {
    const out = await runHttp({ url: `${svc.url}/json` }, context(), options);
    assert.deepEqual(out.data, { items: [1, 2] });
    assert.equal(out.response, '{"items":[1,2]}');
    assert.equal(out.detail?.status, 200);
    assert.equal(out.detail?.url, `${svc.url}/json`);
    const headers = out.detail?.headers as Record<string, string>;
    assert.equal(headers['content-type'], 'application/json');
    assert.equal(headers['x-request-id'], 'r1');
    assert.equal(headers['set-cookie'], undefined);
  });

  test('an object body is sent as JSON, by POST unless a method is given', async () => {
    const out = await runHttp({ url: `${svc.url}/echo`, body: { a: 1, b: ['x'] } }, context(), options);
    assert.deepEqual(out.data, { method: 'POST', type: 'application/json', body: '{"a":1,"b":["x"]}' });
    const put = await runHttp(
      { url: `${svc.url}/echo`, method: 'put', body: 'plain', headers: { 'Content-Type': 'text/plain' } },
      context(),
      options,
    );
    assert.deepEqual(put.data, { method: 'PUT', type: 'text/plain', body: 'plain' });
  });

  test('an unexpected status is http_status, retryable, with secrets scrubbed from the excerpt', async () => {
    const err = await failsWith(
      { url: `${svc.url}/status?code=503&api_key=topsecretkey`, headers: { Authorization: 'Bearer tok-12345' } },
      'http_status',
    );
    assert.equal(err.retryable, true);
    assert.match(err.message, /^GET http:\/\/127\.0\.0\.1:\d+\/status\?… answered 503: failed; you sent/);
    assert.doesNotMatch(err.message, /tok-12345|topsecretkey/);
  });

  test('expect_status admits listed statuses only', async () => {
    const out = await runHttp({ url: `${svc.url}/status?code=404`, expect_status: [404] }, context(), options);
    assert.equal(out.detail?.status, 404);
    await failsWith({ url: `${svc.url}/json`, expect_status: [201] }, 'http_status');
  });

  test('a POST redirected by 302 becomes a GET; a cross-origin hop drops credentials', async () => {
    const ctx = context();
    const same = await runHttp({ url: `${svc.url}/redirect`, body: { a: 1 } }, ctx, options);
    assert.deepEqual(same.data, { method: 'GET', type: null, body: '' });
    assert.equal(same.detail?.redirects, 1);
    assert.equal(ctx.events[0]?.type, 'http.redirect');
    const to = encodeURIComponent(`${other.url}/`);
    const cross = await runHttp(
      {
        url: `${svc.url}/redirect?code=307&to=${to}`,
        method: 'POST',
        body: 'x',
        headers: { authorization: 'Bearer t' },
      },
      context(),
      options,
    );
    assert.deepEqual(cross.data, { method: 'POST', authorization: null });
    assert.equal(cross.detail?.url, `${other.url}/`);
  });

  test('a 3xx listed in expect_status is returned, not followed', async () => {
    const out = await runHttp({ url: `${svc.url}/redirect`, expect_status: [302] }, context(), options);
    assert.equal(out.detail?.status, 302);
  });

  test('timeout', async () => {
    const arrived = nextHang();
    const err = await failsWith({ url: `${svc.url}/hang`, timeout: 100 }, 'timeout');
    await arrived;
    assert.match(err.message, /did not finish within 100 ms/);
  });

  test('abort of ctx.signal is cancelled', async () => {
    const controller = new AbortController();
    const arrived = nextHang();
    const pending = failsWith({ url: `${svc.url}/hang` }, 'cancelled', context(controller.signal));
    await arrived;
    controller.abort();
    await pending;
  });

  test('an abort whose reason is a TimeoutError is a timeout', async () => {
    await failsWith(
      { url: `${svc.url}/json` },
      'timeout',
      context(AbortSignal.abort(new DOMException('t', 'TimeoutError'))),
    );
  });

  test('the response body is capped, with or without content-length', async () => {
    for (const url of [`${svc.url}/big`, `${svc.url}/big?chunked`]) {
      const err = await failsWith({ url, max_response_bytes: 1000 }, 'validation');
      assert.equal(err.field, 'max_response_bytes');
    }
    const out = await runHttp({ url: `${svc.url}/big`, max_response_bytes: 1600 }, context(), options);
    assert.equal(out.response.length, 1600);
  });

  test('a refused connection is a network error', async () => {
    const closed = await listen(() => {});
    closed.server.close();
    await once(closed.server, 'close');
    const err = await failsWith({ url: `${closed.url}/` }, 'network');
    assert.match(err.message, /ECONNREFUSED/);
  });

  test('bad input is a validation error naming the field', async () => {
    assert.equal((await failsWith({ url: 'file:///etc/passwd' }, 'validation')).field, 'url');
    assert.equal((await failsWith({ url: 'not a url' }, 'validation')).field, 'url');
    assert.equal((await failsWith({ url: `${svc.url}/`, headers: { Host: 'x' } }, 'validation')).field, 'headers.Host');
    const bad = await failsWith({ url: `${svc.url}/`, headers: { 'x-api-key': 'sek\r\nret' } }, 'validation');
    assert.doesNotMatch(bad.message, /sek/);
    // A value node cannot send (an emoji from an upstream output, a control character) is the step's
    // input at fault, not the network: it must not be retried.
    for (const value of ['Bearer 🔑', 'a\u0001b']) {
      assert.equal(
        (await failsWith({ url: `${svc.url}/`, headers: { 'x-note': value } }, 'validation')).field,
        'headers.x-note',
      );
    }
    assert.equal((await failsWith({ url: `${svc.url}/`, expect_status: [99] }, 'validation')).field, 'expect_status');
    assert.equal((await failsWith({ url: `${svc.url}/`, timeout: 0 }, 'validation')).field, 'timeout');
  });
});
