import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { ModelProxy } from '../../src/model/model-proxy.ts';

test('the model proxy swaps a live task token for the real key, on the Messages API only', async () => {
  const seen: Array<{ url: string; key: string | undefined }> = [];
  const upstream = http.createServer((req, res) => {
    seen.push({ url: req.url ?? '', key: req.headers['x-api-key'] as string | undefined });
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const proxy = await ModelProxy.start({
    baseUrl: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
    apiKey: 'sk-ant-real-operator-key',
  });
  try {
    const access = proxy.issue();
    const call = (path: string, method = 'POST', key = access.env.ANTHROPIC_API_KEY!) =>
      fetch(`${access.env.ANTHROPIC_BASE_URL}${path}`, {
        method,
        headers: { 'x-api-key': key },
        ...(method === 'POST' ? { body: '{}' } : {}),
      });
    assert.equal((await call('/v1/messages?beta=true')).status, 200);
    assert.deepEqual(seen, [{ url: '/v1/messages?beta=true', key: 'sk-ant-real-operator-key' }]);
    for (const [path, method] of [
      ['/v1/models', 'GET'],
      ['/v1/files', 'POST'],
      ['/v1/messages/batches', 'POST'],
      ['/v1/messagesX', 'POST'],
    ] as const) {
      assert.equal((await call(path, method)).status, 403, `${method} ${path}`);
    }
    assert.equal((await call('/v1/messages', 'POST', 'sy-task-guessed')).status, 401);
    access.release();
    assert.equal((await call('/v1/messages')).status, 401, 'a released token is dead');
    assert.equal(seen.length, 1, 'nothing refused reached the upstream');
  } finally {
    await proxy.close();
    await new Promise<void>((r) => upstream.close(() => r()));
  }
});
