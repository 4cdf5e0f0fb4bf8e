import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../src/config.ts';
import { AppError } from '../../src/errors.ts';
import { startHarness } from '../fixtures/harness.ts';

const KEY = 'test-key-0123456789abcdef';

test('API keys: missing or wrong key → 401; right key → 200; /health needs none', async () => {
  const h = await startHarness({ env: { SWITCHYARD_API_KEYS: `other-key-0123456789,${KEY}` } });
  try {
    assert.equal((await h.fetch('/health')).status, 200);
    const none = await h.fetch('/v1/tasks');
    assert.equal(none.status, 401);
    assert.equal(none.headers.get('www-authenticate'), 'Bearer');
    assert.equal(((await none.json()) as { error: { kind: string } }).error.kind, 'unauthorized');
    for (const header of [`Bearer ${KEY}x`, `Bearer ${KEY.slice(0, -1)}`, KEY, `Basic ${KEY}`, 'Bearer ']) {
      const res = await h.fetch('/v1/tasks', { headers: { authorization: header } });
      assert.equal(res.status, 401, header);
    }
    const ok = await h.fetch('/v1/tasks', { headers: { authorization: `Bearer ${KEY}` } });
    assert.equal(ok.status, 200);
    const seed = await h.fetch('/execute', { method: 'POST', json: { prompt: 'x' } });
    assert.equal(seed.status, 401, 'the article API is behind the key too');
  } finally {
    await h.close();
  }
});

test('refuses to bind a non-loopback address without keys', () => {
  assert.throws(
    () => loadConfig({ SWITCHYARD_HOST: '0.0.0.0' }),
    (err: unknown) => err instanceof AppError && err.field === 'SWITCHYARD_HOST',
  );
  assert.equal(loadConfig({ SWITCHYARD_HOST: '0.0.0.0', SWITCHYARD_API_KEYS: KEY }).host, '0.0.0.0');
});

test('config errors name the variable', () => {
  for (const [env, field] of [
    [{ SWITCHYARD_PORT: 'abc' }, 'SWITCHYARD_PORT'],
    [{ SWITCHYARD_PORT: '70000' }, 'SWITCHYARD_PORT'],
    [{ SWITCHYARD_CONCURRENCY: '0' }, 'SWITCHYARD_CONCURRENCY'],
    [{ SWITCHYARD_API_KEYS: 'short' }, 'SWITCHYARD_API_KEYS'],
    [{ SWITCHYARD_DEFAULT_TIMEOUT: '5' }, 'SWITCHYARD_DEFAULT_TIMEOUT'],
    [{ SWITCHYARD_PROJECT_SETTINGS: 'maybe' }, 'SWITCHYARD_PROJECT_SETTINGS'],
  ] as const) {
    assert.throws(
      () => loadConfig(env),
      (err: unknown) => err instanceof AppError && err.field === field && err.message.startsWith(field),
      JSON.stringify(env),
    );
  }
});

test('flags mirror variables and win over them', () => {
  const c = loadConfig({ SWITCHYARD_PORT: '1000' }, { port: '2000', 'data-dir': '/tmp/x' });
  assert.equal(c.port, 2000);
  assert.equal(c.dataDir, '/tmp/x');
});

test('only the allow-listed variables are passed to Claude Code', () => {
  const c = loadConfig({ ANTHROPIC_API_KEY: 'sk-ant-1', AWS_SECRET_ACCESS_KEY: 'nope', HTTPS_PROXY: 'http://p' });
  assert.deepEqual(c.passThroughEnv, { ANTHROPIC_API_KEY: 'sk-ant-1', HTTPS_PROXY: 'http://p' });
});
