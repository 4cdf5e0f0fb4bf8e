/**
 * Keeps the real model credentials out of the agent's process, and meters what the agent spends.
 * Claude Code's Bash tool inherits its environment, so a key passed to Claude Code is a key the
 * model can print. Instead each task gets a random token valid only while it runs, and
 * ANTHROPIC_BASE_URL points at this loopback proxy, which swaps the token for the real credentials
 * and streams the request through to the upstream. Anything in the task can use that token (a
 * script run through an allowed Bash rule, say), so the task's turn and budget limits are enforced
 * here, on every call, from the usage each response reports (usage-meter.ts).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { type PriceRule, PriceTable } from './pricing.ts';
import { SseScanner } from './sse-scanner.ts';
import { type CallMeter, type MeteredUsage, type Refusal, type TaskLimits, TaskMeter } from './usage-meter.ts';

export type { MeteredUsage, TaskLimits } from './usage-meter.ts';

export interface Upstream {
  /** e.g. https://api.anthropic.com, or a local scripted model. */
  baseUrl: string;
  apiKey?: string | undefined;
  authToken?: string | undefined;
}

export interface ModelProxyOptions {
  /** Also serve on this unix socket (mode 0600), for a sandbox that has no loopback of its own. */
  socketPath?: string | undefined;
  /** Prices per model family; pricing.ts's list prices when omitted. */
  prices?: readonly PriceRule[] | undefined;
}

export interface ModelAccess {
  /** Environment for one task's Claude Code: the proxy URL and a token of its own. */
  env: Record<string, string>;
  /** What every call made with the token used so far, as the upstream reported it. */
  usage(): MeteredUsage;
  /** Revokes the token; later requests with it are refused. */
  release(): void;
}

/** Request headers never forwarded: the task's token, and hop-by-hop headers. */
const DROP = new Set([
  'host',
  'x-api-key',
  'authorization',
  'connection',
  'keep-alive',
  'proxy-authorization',
  'accept-encoding',
]);

/** Claude Code's requests are a few hundred KB to a few MB (long transcripts, images). */
const MAX_REQUEST_BYTES = 32 * 1024 * 1024;
/** A non-streaming response is read whole for its usage; a larger one is forwarded unmetered. */
const MAX_JSON_RESPONSE_BYTES = 16 * 1024 * 1024;
const MESSAGES = /^\/v1\/messages(\/count_tokens)?(\?|$)/;

function errorBody(type: string, message: string): string {
  return JSON.stringify({ type: 'error', error: { type, message } });
}

export class ModelProxy {
  readonly #servers: http.Server[] = [];
  readonly #upstream: URL;
  readonly #credentials: Record<string, string>;
  readonly #tokens = new Map<string, TaskMeter>();
  readonly #prices: PriceTable;
  // Keep-alive to the upstream: a task's calls reuse one TLS connection instead of a handshake each.
  readonly #agent: http.Agent;
  url = '';
  socketPath: string | undefined;

  private constructor(upstream: Upstream, options: ModelProxyOptions) {
    this.#upstream = new URL(upstream.baseUrl);
    this.#credentials = {};
    if (upstream.apiKey) this.#credentials['x-api-key'] = upstream.apiKey;
    if (upstream.authToken) this.#credentials.authorization = `Bearer ${upstream.authToken}`;
    this.#prices = new PriceTable(options.prices);
    const agentOptions = { keepAlive: true, maxFreeSockets: 16 };
    this.#agent = this.#upstream.protocol === 'https:' ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
  }

  #server(): http.Server {
    const server = http.createServer((req, res) => this.#handle(req, res));
    server.keepAliveTimeout = 5000;
    this.#servers.push(server);
    return server;
  }

  static async start(upstream: Upstream, options: ModelProxyOptions = {}): Promise<ModelProxy> {
    const proxy = new ModelProxy(upstream, options);
    const tcp = proxy.#server();
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    proxy.url = `http://127.0.0.1:${(tcp.address() as AddressInfo).port}`;
    if (options.socketPath) {
      const socketPath = options.socketPath;
      removeStaleSocket(socketPath);
      const unix = proxy.#server();
      await new Promise<void>((resolve, reject) => {
        unix.once('error', reject);
        // The socket is bound inside listen(): with this umask it is never connectable by others,
        // not even between its creation and the chmod below.
        const umask = process.umask(0o177);
        try {
          unix.listen(socketPath, resolve);
        } finally {
          process.umask(umask);
        }
      });
      fs.chmodSync(socketPath, 0o600);
      proxy.socketPath = socketPath;
    }
    return proxy;
  }

  /**
   * A token for one task, held to `limits` on every call made with it.
   * @example
   * const access = proxy.issue({ maxTurns: 10, maxBudgetUsd: 2 });
   * // run Claude Code with access.env, then: access.usage().cost_usd
   */
  issue(limits: TaskLimits = {}): ModelAccess {
    const token = `sy-task-${randomBytes(24).toString('base64url')}`;
    const meter = new TaskMeter(limits, this.#prices);
    this.#tokens.set(token, meter);
    return {
      env: { ANTHROPIC_BASE_URL: this.url, ANTHROPIC_API_KEY: token },
      usage: () => meter.usage(),
      release: () => this.#tokens.delete(token),
    };
  }

  #presented(req: http.IncomingMessage): string | undefined {
    const key = req.headers['x-api-key'];
    if (typeof key === 'string') return key;
    const match = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    return match?.[1];
  }

  #refuse(req: http.IncomingMessage, res: http.ServerResponse, refusal: Refusal): void {
    // An unread request body would otherwise be drained first; a refused one is not worth reading.
    res.writeHead(refusal.status, { 'content-type': 'application/json', connection: 'close' });
    res.end(errorBody(refusal.type, refusal.message));
    req.resume();
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const token = this.#presented(req);
    const meter = token ? this.#tokens.get(token) : undefined;
    if (!meter) {
      this.#refuse(req, res, { status: 401, type: 'authentication_error', message: 'invalid task token' });
      return;
    }
    // A task only needs the Messages API; the operator's key must not reach the rest of the account
    // (files, batches, admin endpoints) through a token the agent can read.
    const route = MESSAGES.exec(req.url ?? '');
    if (req.method !== 'POST' || !route) {
      const message = 'a task token only reaches POST /v1/messages';
      this.#refuse(req, res, { status: 403, type: 'permission_error', message });
      return;
    }
    if (Number(req.headers['content-length'] ?? 0) > MAX_REQUEST_BYTES) {
      this.#refuse(req, res, tooLarge());
      return;
    }
    const isModelCall = route[1] === undefined; // count_tokens is free and is not a turn
    const refusal = meter.admit(isModelCall);
    if (refusal) {
      this.#refuse(req, res, refusal);
      return;
    }
    this.#forward(req, res, meter.call(isModelCall));
  }

  #forward(req: http.IncomingMessage, res: http.ServerResponse, call: CallMeter): void {
    const headers: http.OutgoingHttpHeaders = { ...this.#credentials };
    for (const [name, value] of Object.entries(req.headers)) if (!DROP.has(name)) headers[name] = value;
    // The meter reads the response as it passes, so it must arrive uncompressed.
    headers['accept-encoding'] = 'identity';
    const base = this.#upstream.pathname.replace(/\/$/, '');
    const client = this.#upstream.protocol === 'https:' ? https : http;
    const upstreamReq = client.request(
      {
        protocol: this.#upstream.protocol,
        hostname: this.#upstream.hostname,
        port: this.#upstream.port,
        method: req.method,
        path: `${base}${req.url ?? '/'}`,
        headers,
        agent: this.#agent,
      },
      (upstreamRes) => {
        const status = upstreamRes.statusCode ?? 502;
        call.status(status);
        res.writeHead(status, upstreamRes.headers);
        meterResponse(upstreamRes, call);
        upstreamRes.pipe(res);
      },
    );
    upstreamReq.on('error', () => {
      call.end();
      if (res.writableEnded) return; // answered already (a body over the cap)
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end(errorBody('api_error', 'model upstream unreachable'));
      } else res.destroy();
    });
    // A client that goes away (a cancelled task) ends the upstream request too; the call is over.
    res.on('close', () => {
      call.end();
      upstreamReq.destroy();
    });
    let received = 0;
    const counter = (chunk: Buffer) => {
      received += chunk.length;
      if (received <= MAX_REQUEST_BYTES) return;
      // A chunked body that grows past the cap: it never reaches the upstream whole.
      req.off('data', counter);
      req.unpipe(upstreamReq);
      upstreamReq.destroy();
      if (res.headersSent) res.destroy();
      else this.#refuse(req, res, tooLarge()); // `connection: close` ends the upload with the answer
    };
    req.on('data', counter);
    req.pipe(upstreamReq);
  }

  async close(): Promise<void> {
    await Promise.all(
      this.#servers.map((server) => {
        server.closeAllConnections();
        return new Promise<void>((resolve) => server.close(() => resolve()));
      }),
    );
    this.#agent.destroy();
    if (this.socketPath) fs.rmSync(this.socketPath, { force: true });
  }
}

function tooLarge(): Refusal {
  const message = `a request to the model proxy may be at most ${MAX_REQUEST_BYTES} bytes`;
  return { status: 413, type: 'request_too_large', message };
}

/** A socket file left by a proxy that died is replaced; any other file at the path is an error. */
function removeStaleSocket(socketPath: string): void {
  const stat = fs.lstatSync(socketPath, { throwIfNoEntry: false });
  if (stat?.isSocket()) fs.rmSync(socketPath);
}

/** Usage-bearing events of a Messages stream; the rest (text and tool input deltas) is skipped. */
const METERED_EVENTS = ['message_start', 'message_delta', 'content_block_start'];

/** Feeds a successful response's usage to its call's meter as the response streams past. */
function meterResponse(upstreamRes: http.IncomingMessage, call: CallMeter): void {
  const status = upstreamRes.statusCode ?? 0;
  const type = String(upstreamRes.headers['content-type'] ?? '');
  if (status >= 200 && status < 300 && type.startsWith('text/event-stream')) {
    const scanner = new SseScanner(METERED_EVENTS, (event, data) => readEvent(call, event, data));
    upstreamRes.on('data', (chunk: Buffer) => scanner.feed(chunk));
  } else if (status >= 200 && status < 300 && type.includes('json')) {
    // Chunks are referenced, not copied, until the body is complete.
    const chunks: Buffer[] = [];
    let length = 0;
    upstreamRes.on('data', (chunk: Buffer) => {
      length += chunk.length;
      if (length <= MAX_JSON_RESPONSE_BYTES) chunks.push(chunk);
    });
    upstreamRes.on('end', () => {
      if (length <= MAX_JSON_RESPONSE_BYTES) readMessage(call, Buffer.concat(chunks, length).toString('utf8'));
    });
  }
  // Registered last: the readers above have seen the whole body when the call ends.
  upstreamRes.on('end', () => call.end());
  upstreamRes.on('close', () => call.end());
}

function readMessage(call: CallMeter, text: string): void {
  const message = parse(text) as { model?: unknown; usage?: unknown; content?: unknown } | null;
  call.model(message?.model);
  call.report(message?.usage);
  if (!Array.isArray(message?.content)) return;
  for (const block of message.content as Array<{ type?: unknown; name?: unknown } | null>) {
    if (block?.type === 'tool_use') call.toolUse(block.name);
  }
}

function readEvent(call: CallMeter, event: string, data: string): void {
  const parsed = parse(data) as {
    message?: { model?: unknown; usage?: unknown };
    usage?: unknown;
    content_block?: { type?: unknown; name?: unknown };
  } | null;
  if (!parsed) return;
  if (event === 'message_start') {
    call.model(parsed.message?.model);
    call.report(parsed.message?.usage);
  } else if (event === 'message_delta') {
    call.report(parsed.usage);
  } else if (parsed.content_block?.type === 'tool_use') {
    call.toolUse(parsed.content_block.name);
  }
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
