/**
 * isStoreUnavailable tells a database outage (503, retry) from a bug (500), on errors node-postgres
 * really raises: a refused connection, a socket that is not there, and a server shutting down.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import pg from 'pg';
import { isStoreUnavailable } from '../../src/store/unavailable.ts';

async function connectError(config: pg.ClientConfig): Promise<unknown> {
  const client = new pg.Client({ ...config, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
  } catch (err) {
    return err;
  } finally {
    await client.end().catch(() => undefined);
  }
  throw new Error('connected, but no server should be there');
}

test('a refused TCP connection and a missing unix socket are outages', async () => {
  // A port nobody listens on: bind one, note it, close it.
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  assert.equal(isStoreUnavailable(await connectError({ host: '127.0.0.1', port })), true);
  assert.equal(isStoreUnavailable(await connectError({ host: '/nonexistent-switchyard-socket-dir' })), true);
});

test('a server going away mid-session is an outage: admin shutdown (57P01) and a terminated connection', () => {
  const shutdown = Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });
  assert.equal(isStoreUnavailable(shutdown), true);
  assert.equal(isStoreUnavailable(new Error('Connection terminated unexpectedly')), true);
  // Wrapped by whoever caught it first.
  assert.equal(isStoreUnavailable(new Error('claim failed', { cause: shutdown })), true);
});

test('bugs and bad SQL are not outages', () => {
  assert.equal(isStoreUnavailable(new TypeError("Cannot read properties of undefined (reading 'id')")), false);
  assert.equal(
    isStoreUnavailable(Object.assign(new Error('syntax error at or near "SELEC"'), { code: '42601' })),
    false,
  );
  assert.equal(isStoreUnavailable(Object.assign(new Error('duplicate key'), { code: '23505' })), false);
  assert.equal(isStoreUnavailable('a string'), false);
});
