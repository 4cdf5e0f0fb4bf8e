/**
 * The sandbox's egress proxy over its unix socket, as Claude Code's HTTP(S)_PROXY uses it: a host is
 * admitted only by a WebFetch rule, and the address connected to is the one the SSRF guard checked.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EgressProxy } from '../../src/runners/claude/egress-proxy.ts';
import { compilePolicy } from '../../src/runners/claude/policy.ts';
import { parseAllowList } from '../../src/runners/ssrf.ts';
import { tempDir } from '../fixtures/harness.ts';

// Names resolve without DNS: good.test is the local web server; evil.test points at a private address.
const resolveAll = async (name: string) => {
  if (name === 'good.test' || name === 'www.good.test') return [{ address: '127.0.0.2', family: 4 }];
  if (name === 'evil.test') return [{ address: '10.1.2.3', family: 4 }];
  throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
};

/** Sends one raw request to the proxy's socket and returns everything it answers until it closes. */
function exchange(socketPath: string, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    let data = '';
    socket.on('data', (chunk) => {
      data += chunk;
      // A tunnel stays open: after the page arrived through it, the exchange is done.
      if (data.includes('page-body')) socket.end();
    });
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
    socket.write(request);
  });
}

describe('EgressProxy', () => {
  let web: http.Server;
  let port: number;
  let proxy: EgressProxy;
  const hits: string[] = [];
  before(async () => {
    web = http.createServer((req, res) => {
      hits.push(`${req.headers.host} ${req.url}`);
      res.end('page-body');
    });
    await new Promise<void>((resolve) => web.listen(0, '127.0.0.2', resolve));
    port = (web.address() as AddressInfo).port;
    proxy = await EgressProxy.start(path.join(tempDir(), 'egress.sock'), {
      rules: compilePolicy(['WebFetch(domain:good.test)', 'WebFetch(domain:evil.test)']).rules,
      httpAllow: parseAllowList('127.0.0.2'),
      resolveAll,
    });
  });
  after(async () => {
    await proxy.close();
    web.close();
  });

  test('plain http: an allowed domain is fetched at its checked address; others are 403', async () => {
    const ok = await exchange(
      proxy.socketPath,
      `GET http://www.good.test:${port}/a?b=1 HTTP/1.1\r\nHost: www.good.test\r\nConnection: close\r\n\r\n`,
    );
    assert.match(ok, /^HTTP\/1\.1 200/);
    assert.match(ok, /page-body/);
    assert.deepEqual(hits, [`www.good.test:${port} /a?b=1`]);
    const outside = await exchange(
      proxy.socketPath,
      `GET http://other.test:${port}/ HTTP/1.1\r\nHost: other.test\r\n\r\n`,
    );
    assert.match(outside, /^HTTP\/1\.1 403[\s\S]*outside the allowed domains/);
    const internal = await exchange(
      proxy.socketPath,
      `GET http://evil.test:${port}/ HTTP/1.1\r\nHost: evil.test\r\n\r\n`,
    );
    assert.match(internal, /^HTTP\/1\.1 403[\s\S]*private/);
    const literal = await exchange(proxy.socketPath, `GET http://127.0.0.1:${port}/ HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.match(literal, /^HTTP\/1\.1 403/);
    assert.equal(hits.length, 1, 'a refused request reached a server');
  });

  test('CONNECT: a tunnel only to an allowed domain at its checked address', async () => {
    const tunnel = await exchange(
      proxy.socketPath,
      `CONNECT good.test:${port} HTTP/1.1\r\nHost: good.test:${port}\r\n\r\nGET /t HTTP/1.1\r\nHost: good.test\r\nConnection: close\r\n\r\n`,
    );
    assert.match(tunnel, /^HTTP\/1\.1 200 Connection Established/);
    assert.match(tunnel, /page-body/);
    assert.ok(hits.includes('good.test /t'));
    for (const target of [`evil.test:${port}`, `other.test:443`, `127.0.0.1:${port}`, 'nonsense']) {
      const refused = await exchange(proxy.socketPath, `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
      assert.match(refused, /^HTTP\/1\.1 (403|400)/, target);
    }
  });
});
