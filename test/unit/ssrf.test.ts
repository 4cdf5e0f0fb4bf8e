/**
 * The SSRF guard, alone and inside the http worker. Every test that could reach a network checks that
 * the refusal happens before any socket is opened; only 127.0.0.1 is ever contacted.
 */
import assert from 'node:assert/strict';
import diagnostics from 'node:diagnostics_channel';
import type { LookupAddress } from 'node:dns';
import { once } from 'node:events';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { AppError } from '../../src/errors.ts';
import { runHttp } from '../../src/runners/http.ts';
import type { RunContext } from '../../src/runners/runner.ts';
import {
  emptyAllowList,
  parseAllowList,
  type ResolveAll,
  refusalReason,
  resolveChecked,
} from '../../src/runners/ssrf.ts';

const ctx = (): RunContext => ({ signal: new AbortController().signal, emit: () => {} });

/** Counts client sockets node creates, to prove a refusal happened before connecting. */
let sockets = 0;
const countSocket = () => {
  sockets++;
};
before(() => diagnostics.subscribe('net.client.socket', countSocket));
after(() => diagnostics.unsubscribe('net.client.socket', countSocket));

async function listen(handler: RequestListener): Promise<{ server: Server; port: number; hits: () => number }> {
  let hits = 0;
  const server = createServer((req, res) => {
    hits++;
    handler(req, res);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port, hits: () => hits };
}

/** A resolver for `.invalid` names (and localhost, made deterministic): no real DNS in these tests. */
function resolver(table: Record<string, string[]>): ResolveAll & { calls: string[] } {
  const calls: string[] = [];
  const resolve = async (name: string): Promise<LookupAddress[]> => {
    calls.push(name);
    const addresses = table[name];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return Object.assign(resolve, { calls });
}

async function refusedBeforeConnect(run: () => Promise<unknown>, pattern: RegExp): Promise<void> {
  const before = sockets;
  await assert.rejects(run, (err: unknown) => {
    assert.ok(err instanceof AppError, String(err));
    assert.equal(err.kind, 'permission_denied', err.message);
    assert.match(err.message, pattern);
    return true;
  });
  assert.equal(sockets, before, 'no socket may be opened for a refused address');
}

describe('parseAllowList', () => {
  test('reads hosts, addresses and CIDRs', () => {
    const allow = parseAllowList(' 127.0.0.1/32, localhost ,api.internal., [::1], 10.1.0.0/16,fd00::/8,');
    assert.deepEqual(allow.hosts, ['localhost', 'api.internal']);
    assert.deepEqual(allow.cidrs, ['127.0.0.1/32', '::1/128', '10.1.0.0/16', 'fd00::/8']);
    assert.deepEqual(parseAllowList(undefined), emptyAllowList());
  });

  for (const junk of ['http://api.internal', 'localhost:8080', '10.0.0.0/33', 'bad host', '*.internal', '1.2.3/8']) {
    test(`refuses ${JSON.stringify(junk)} naming the variable`, () => {
      assert.throws(
        () => parseAllowList(`127.0.0.1,${junk}`),
        (err: unknown) => err instanceof AppError && err.kind === 'validation' && err.field === 'SWITCHYARD_HTTP_ALLOW',
      );
    });
  }
});

describe('refusalReason', () => {
  const none = emptyAllowList();
  const refused: Array<[string, RegExp]> = [
    ['127.0.0.1', /loopback/],
    ['::1', /loopback/],
    ['10.0.0.1', /private/],
    ['172.16.5.4', /private/],
    ['192.168.1.1', /private/],
    ['fc00::1', /unique local/],
    ['169.254.169.254', /link-local/],
    ['fe80::1', /link-local/],
    ['0.0.0.0', /unspecified/],
    ['::', /unspecified/],
    ['224.0.0.1', /multicast/],
    ['255.255.255.255', /broadcast/],
    ['100.64.0.1', /carrier-grade/],
    ['::ffff:127.0.0.1', /loopback/],
    ['::ffff:169.254.169.254', /link-local/],
    ['64:ff9b::a00:1', /rfc6052/],
    // IPv4-compatible (deprecated ::/96): some stacks still route it to the IPv4 address it carries.
    ['::7f00:1', /loopback/],
    ['::a9fe:a9fe', /link-local/],
  ];
  for (const [address, reason] of refused) {
    test(`refuses ${address}`, () => assert.match(refusalReason(address, none) ?? '', reason));
  }
  test('admits public unicast addresses', () => {
    assert.equal(refusalReason('8.8.8.8', none), undefined);
    assert.equal(refusalReason('2001:4860:4860::8888', none), undefined);
  });
  test('admits allow-listed networks, IPv4-mapped forms included', () => {
    const allow = parseAllowList('127.0.0.1/32,10.0.0.0/8');
    assert.equal(refusalReason('127.0.0.1', allow), undefined);
    assert.equal(refusalReason('::ffff:127.0.0.1', allow), undefined);
    assert.equal(refusalReason('10.200.0.1', allow), undefined);
    assert.match(refusalReason('127.0.0.2', allow) ?? '', /loopback/);
  });
});

describe('resolveChecked', () => {
  test('refuses a name when any of its addresses is internal', async () => {
    const resolve = resolver({ 'mixed.invalid': ['8.8.8.8', '127.0.0.1'] });
    await assert.rejects(
      resolveChecked('mixed.invalid', emptyAllowList(), resolve),
      /mixed\.invalid resolves to 127\.0\.0\.1/,
    );
  });
  test('admits an allow-listed name whatever it resolves to', async () => {
    const resolve = resolver({ 'api.internal': ['10.0.0.7'] });
    const addresses = await resolveChecked('api.internal', parseAllowList('api.internal'), resolve);
    assert.deepEqual(addresses, [{ address: '10.0.0.7', family: 4 }]);
  });
  test('a name that does not resolve is a network error', async () => {
    await assert.rejects(resolveChecked('nothing.invalid', emptyAllowList(), resolver({})), { kind: 'network' });
  });
});

describe('the http worker refuses internal targets before connecting', () => {
  let target: Awaited<ReturnType<typeof listen>>;
  before(async () => {
    target = await listen((_req, res) => res.end('internal secret'));
  });
  after(() => target.server.close());

  const cases: Array<[string, (port: number) => string, RegExp]> = [
    [
      '127.0.0.1',
      (port) => `http://127.0.0.1:${port}/`,
      /127\.0\.0\.1 is a loopback address; add it to SWITCHYARD_HTTP_ALLOW/,
    ],
    [
      'localhost',
      (port) => `http://localhost:${port}/`,
      /localhost resolves to 127\.0\.0\.1, which is a loopback address/,
    ],
    ['[::1]', (port) => `http://[::1]:${port}/`, /::1 is a loopback address/],
    ['10.0.0.1', () => 'http://10.0.0.1/', /10\.0\.0\.1 is a private address/],
    ['169.254.169.254', () => 'http://169.254.169.254/latest/meta-data/', /169\.254\.169\.254 is link-local; add it/],
    ['0.0.0.0', (port) => `http://0.0.0.0:${port}/`, /0\.0\.0\.0 is the unspecified address/],
    ['::ffff:127.0.0.1', (port) => `http://[::ffff:127.0.0.1]:${port}/`, /is a loopback address/],
    ['2130706433 (127.0.0.1 as a number)', (port) => `http://2130706433:${port}/`, /127\.0\.0\.1 is a loopback/],
    [
      'a name resolving to loopback',
      (port) => `http://rebind.invalid:${port}/`,
      /rebind\.invalid resolves to 127\.0\.0\.1/,
    ],
  ];
  const resolve = resolver({ localhost: ['127.0.0.1', '::1'], 'rebind.invalid': ['127.0.0.1'] });
  for (const [name, url, message] of cases) {
    test(name, async () => {
      await refusedBeforeConnect(
        () => runHttp({ url: url(target.port) }, ctx(), { allow: emptyAllowList(), resolveAll: resolve }),
        message,
      );
      assert.equal(target.hits(), 0);
    });
  }

  test('the allow list admits 127.0.0.1', async () => {
    const out = await runHttp({ url: `http://127.0.0.1:${target.port}/` }, ctx(), {
      allow: parseAllowList('127.0.0.1'),
    });
    assert.equal(out.response, 'internal secret');
  });

  test('the connection uses the address that was checked (no second lookup)', async () => {
    // A rebinding resolver: the first answer passes the check, a later one would not.
    let calls = 0;
    const rebinding: ResolveAll = async () => [{ address: calls++ === 0 ? '127.0.0.1' : '10.0.0.1', family: 4 }];
    const out = await runHttp({ url: `http://svc.invalid:${target.port}/` }, ctx(), {
      allow: parseAllowList('127.0.0.1/32'),
      resolveAll: rebinding,
    });
    assert.equal(out.response, 'internal secret');
    assert.equal(calls, 1);
  });
});

describe('redirects are checked hop by hop', () => {
  let origin: Awaited<ReturnType<typeof listen>>;
  before(async () => {
    // Redirects to whatever `?to=` says.
    origin = await listen((req, res) => {
      const to = new URL(req.url ?? '/', 'http://x').searchParams.get('to');
      if (to) res.writeHead(302, { location: to }).end();
      else res.end('landed');
    });
  });
  after(() => origin.server.close());

  const allow = parseAllowList('127.0.0.1');
  const resolve = resolver({ localhost: ['127.0.0.1', '::1'], 'internal.invalid': ['10.0.0.5'] });
  const hop = (to: string) => `http://127.0.0.1:${origin.port}/?to=${encodeURIComponent(to)}`;

  test('an allowed redirect is followed', async () => {
    const out = await runHttp({ url: hop(`http://127.0.0.1:${origin.port}/done`) }, ctx(), { allow });
    assert.equal(out.response, 'landed');
    assert.equal(out.detail?.redirects, 1);
  });

  const targets: Array<[string, RegExp]> = [
    ['http://localhost:1/', /redirected to http:\/\/localhost:1\/: localhost resolves to ::1/],
    ['http://[::1]:1/', /::1 is a loopback address/],
    ['http://127.0.0.2:1/', /127\.0\.0\.2 is a loopback address/],
    ['http://169.254.169.254/latest/meta-data/', /169\.254\.169\.254 is link-local/],
    ['http://internal.invalid/', /internal\.invalid resolves to 10\.0\.0\.5/],
    ['file:///etc/passwd', /redirected to a file: URL/],
    ['ftp://127.0.0.1/', /redirected to a ftp: URL/],
  ];
  for (const [to, message] of targets) {
    test(`to ${to} is refused`, async () => {
      const before = sockets;
      await assert.rejects(runHttp({ url: hop(to) }, ctx(), { allow, resolveAll: resolve }), (err: unknown) => {
        assert.ok(err instanceof AppError);
        assert.equal(err.kind, 'permission_denied');
        assert.match(err.message, message);
        return true;
      });
      assert.equal(sockets - before, 1, 'only the first, allowed hop may connect');
    });
  }
});
