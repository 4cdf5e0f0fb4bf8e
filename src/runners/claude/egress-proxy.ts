/**
 * The sandbox's only way out to the web, for tasks with WebFetch rules. The sandbox has no network, so
 * Claude Code's HTTP(S)_PROXY points (through a forwarder) at this proxy, on a unix socket of the task's
 * own. It admits a host only when a WebFetch rule does, resolves it once, refuses internal addresses
 * (the SSRF guard) and connects to exactly the address it checked, so a name whose DNS answer changes
 * between the gate's check and the fetch (rebinding) cannot reach the internal network.
 */
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { AppError } from '../../errors.ts';
import { type AllowList, type ResolveAll, resolveChecked } from '../ssrf.ts';
import type { ToolRule } from './policy.ts';

export interface EgressOptions {
  /** The task's WebFetch rules: a bare rule admits any public host, `domain:x` admits x and its subdomains. */
  rules: ToolRule[];
  httpAllow: AllowList;
  resolveAll?: ResolveAll;
}

/** True when a WebFetch rule admits the host (the same reading as the gate's). */
export function webHostAllowed(rules: ToolRule[], host: string): boolean {
  const name = host.toLowerCase().replace(/\.$/, '');
  return rules.some((rule) => {
    if (rule.tool !== 'WebFetch') return false;
    if (rule.scope === undefined) return true;
    const domain = rule.scope.slice('domain:'.length);
    return name === domain || name.endsWith(`.${domain}`);
  });
}

/** The checked address to connect to, or an error whose message is safe to show the agent. */
async function admit(host: string, options: EgressOptions): Promise<string> {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (!webHostAllowed(options.rules, bare))
    throw new AppError('permission_denied', `${bare} is outside the allowed domains`);
  const addresses = await resolveChecked(bare, options.httpAllow, options.resolveAll);
  return addresses[0]!.address;
}

function splitHostPort(authority: string, defaultPort: number): { host: string; port: number } | undefined {
  const match = /^(\[[^\]]+\]|[^:]+)(?::(\d{1,5}))?$/.exec(authority);
  if (!match) return undefined;
  const port = match[2] === undefined ? defaultPort : Number(match[2]);
  return port > 0 && port < 65536 ? { host: match[1]!, port } : undefined;
}

function refuse(socket: net.Socket, status: string, message: string): void {
  socket.end(`HTTP/1.1 ${status}\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n${message}\n`);
}

/** A proxy for one task; `close()` ends it and every connection it carried. */
export class EgressProxy {
  readonly socketPath: string;
  readonly #server: http.Server;
  readonly #sockets = new Set<net.Socket>();

  private constructor(socketPath: string, options: EgressOptions) {
    this.socketPath = socketPath;
    this.#server = http.createServer((req, res) => void this.#forward(req, res, options));
    this.#server.on('connect', (req, socket: net.Socket, head) => void this.#tunnel(req, socket, head, options));
  }

  static async start(socketPath: string, options: EgressOptions): Promise<EgressProxy> {
    const proxy = new EgressProxy(socketPath, options);
    fs.rmSync(socketPath, { force: true });
    await new Promise<void>((resolve, reject) => {
      proxy.#server.once('error', reject);
      proxy.#server.listen(socketPath, resolve);
    });
    fs.chmodSync(socketPath, 0o600);
    return proxy;
  }

  #track(socket: net.Socket): void {
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
  }

  /** HTTPS: CONNECT host:port, then bytes both ways to the checked address. */
  async #tunnel(req: http.IncomingMessage, client: net.Socket, head: Buffer, options: EgressOptions): Promise<void> {
    this.#track(client);
    client.on('error', () => client.destroy());
    const target = splitHostPort(req.url ?? '', 443);
    if (!target) return refuse(client, '400 Bad Request', 'CONNECT needs host:port');
    let address: string;
    try {
      address = await admit(target.host, options);
    } catch (err) {
      return refuse(client, '403 Forbidden', `switchyard egress: ${(err as Error).message}`);
    }
    const upstream = net.connect({ host: address, port: target.port });
    this.#track(upstream);
    upstream.once('connect', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.once('error', () => refuse(client, '502 Bad Gateway', 'switchyard egress: upstream unreachable'));
  }

  /** Plain HTTP: an absolute-form request, forwarded to the checked address with its own Host header. */
  async #forward(req: http.IncomingMessage, res: http.ServerResponse, options: EgressOptions): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? '');
    } catch {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('switchyard egress: absolute URL required\n');
      return;
    }
    if (url.protocol !== 'http:') {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('switchyard egress: only http:// without CONNECT\n');
      return;
    }
    let address: string;
    try {
      address = await admit(url.hostname, options);
    } catch (err) {
      res
        .writeHead(403, { 'content-type': 'text/plain', connection: 'close' })
        .end(`switchyard egress: ${(err as Error).message}\n`);
      req.resume();
      return;
    }
    const headers: http.OutgoingHttpHeaders = { ...req.headers, host: url.host };
    delete headers['proxy-connection'];
    delete headers['proxy-authorization'];
    const upstream = http.request(
      { host: address, port: url.port || 80, method: req.method, path: `${url.pathname}${url.search}`, headers },
      (upstreamRes) => {
        res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
        upstreamRes.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent)
        res.writeHead(502, { 'content-type': 'text/plain' }).end('switchyard egress: upstream unreachable\n');
      else res.destroy();
    });
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    fs.rmSync(this.socketPath, { force: true });
  }
}
