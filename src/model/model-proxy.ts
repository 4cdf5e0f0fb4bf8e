/**
 * Keeps the real model credentials out of the agent's process. Claude Code's Bash tool inherits its
 * environment, so a key passed to Claude Code is a key the model can print. Instead each task gets
 * a random token valid only while it runs, and ANTHROPIC_BASE_URL points at this loopback proxy,
 * which swaps the token for the real credentials and streams the request through to the upstream.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

export interface Upstream {
  /** e.g. https://api.anthropic.com, or a local scripted model. */
  baseUrl: string;
  apiKey?: string | undefined;
  authToken?: string | undefined;
}

export interface ModelAccess {
  /** Environment for one task's Claude Code: the proxy URL and a token of its own. */
  env: Record<string, string>;
  /** Revokes the token; later requests with it are refused. */
  release(): void;
}

/** Request headers never forwarded: the task's token, and hop-by-hop headers. */
const DROP = new Set(['host', 'x-api-key', 'authorization', 'connection', 'keep-alive', 'proxy-authorization']);

export class ModelProxy {
  readonly #server: http.Server;
  readonly #upstream: URL;
  readonly #credentials: Record<string, string>;
  readonly #tokens = new Set<string>();
  #unixServer: http.Server | undefined;
  #socketPath: string | undefined;
  url = '';

  private constructor(upstream: Upstream) {
    this.#upstream = new URL(upstream.baseUrl);
    this.#credentials = {};
    if (upstream.apiKey) this.#credentials['x-api-key'] = upstream.apiKey;
    if (upstream.authToken) this.#credentials.authorization = `Bearer ${upstream.authToken}`;
    this.#server = http.createServer((req, res) => this.#forward(req, res));
    this.#server.keepAliveTimeout = 5000;
  }

  static async start(upstream: Upstream, options: { socketPath?: string } = {}): Promise<ModelProxy> {
    const proxy = new ModelProxy(upstream);
    await new Promise<void>((resolve) => proxy.#server.listen(0, '127.0.0.1', resolve));
    proxy.url = `http://127.0.0.1:${(proxy.#server.address() as AddressInfo).port}`;
    if (options.socketPath) {
      // The sandbox has no route to the host's loopback; it reaches the proxy through this socket.
      const socketPath = options.socketPath;
      fs.rmSync(socketPath, { force: true });
      const unixServer = http.createServer((req, res) => proxy.#forward(req, res));
      await new Promise<void>((resolve, reject) => {
        unixServer.once('error', reject);
        unixServer.listen(socketPath, resolve);
      });
      fs.chmodSync(socketPath, 0o600);
      proxy.#unixServer = unixServer;
      proxy.#socketPath = socketPath;
    }
    return proxy;
  }

  issue(): ModelAccess {
    const token = `sy-task-${randomBytes(24).toString('base64url')}`;
    this.#tokens.add(token);
    return {
      env: { ANTHROPIC_BASE_URL: this.url, ANTHROPIC_API_KEY: token },
      release: () => this.#tokens.delete(token),
    };
  }

  #presented(req: http.IncomingMessage): string | undefined {
    const key = req.headers['x-api-key'];
    if (typeof key === 'string') return key;
    const match = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    return match?.[1];
  }

  #refuse(req: http.IncomingMessage, res: http.ServerResponse, status: number, type: string, message: string): void {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ type: 'error', error: { type, message } }));
    req.resume();
  }

  #forward(req: http.IncomingMessage, res: http.ServerResponse): void {
    const token = this.#presented(req);
    if (!token || !this.#tokens.has(token)) {
      this.#refuse(req, res, 401, 'authentication_error', 'invalid task token');
      return;
    }
    // A task only needs the Messages API; the operator's key must not reach the rest of the account
    // (files, batches, admin endpoints) through a token the agent can read.
    if (req.method !== 'POST' || !/^\/v1\/messages(\/count_tokens)?(\?|$)/.test(req.url ?? '')) {
      this.#refuse(req, res, 403, 'permission_error', 'a task token only reaches POST /v1/messages');
      return;
    }
    const headers: http.OutgoingHttpHeaders = { ...this.#credentials };
    for (const [name, value] of Object.entries(req.headers)) if (!DROP.has(name)) headers[name] = value;
    const base = this.#upstream.pathname.replace(/\/$/, '');
    const target = {
      protocol: this.#upstream.protocol,
      hostname: this.#upstream.hostname,
      port: this.#upstream.port,
      method: req.method,
      path: `${base}${req.url ?? '/'}`,
      headers,
    };
    const client = this.#upstream.protocol === 'https:' ? https : http;
    const upstreamReq = client.request(target, (upstreamRes) => {
      res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
      upstreamRes.pipe(res);
    });
    upstreamReq.on('error', () => {
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ type: 'error', error: { type: 'api_error', message: 'model upstream unreachable' } }));
      } else res.destroy();
    });
    // A client that goes away (a cancelled task) ends the upstream request too.
    res.on('close', () => upstreamReq.destroy());
    req.pipe(upstreamReq);
  }

  async close(): Promise<void> {
    for (const server of [this.#server, this.#unixServer]) {
      if (!server) continue;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    if (this.#socketPath) fs.rmSync(this.#socketPath, { force: true });
  }
}
