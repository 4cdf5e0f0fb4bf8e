/**
 * The `http` worker: one HTTP request (plus redirects) per step, guarded against SSRF.
 *
 * node:http(s) is used rather than fetch because its `lookup` option lets the connection use exactly
 * the addresses the guard checked (see ssrf.ts), and because redirects must be re-checked hop by hop.
 */
import type { LookupAddress } from 'node:dns';
import http, { type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import https from 'node:https';
import { AppError, validationError } from '../errors.ts';
import { abortReasonError, type OutputEnvelope, type RunContext } from './runner.ts';
import { type AllowList, pinnedLookup, type ResolveAll, resolveChecked } from './ssrf.ts';

export interface HttpStepInput {
  /** Default GET, or POST when a body is given. */
  method?: string;
  url: string;
  headers?: Record<string, string>;
  /** A string is sent as is; anything else is sent as JSON (with `content-type: application/json`). */
  body?: unknown;
  /** Statuses that count as success; default any 2xx. Listing a 3xx stops redirects being followed. */
  expect_status?: number[];
  /** Milliseconds for the whole exchange, redirects and body included; default 60 000. */
  timeout?: number;
  /** Largest response body accepted; default 10 MiB. */
  max_response_bytes?: number;
  /**
   * Follow redirects only within the URL's origin. Set for workflow steps that send secrets: a
   * cross-origin hop drops credential-named headers, but a 307/308 keeps the body and every other header.
   */
  keep_origin?: boolean;
}

export interface HttpRunnerOptions {
  /** From `SWITCHYARD_HTTP_ALLOW` (`parseAllowList`). */
  allow: AllowList;
  /** Name resolution; defaults to the system resolver (`dns.lookup`, all addresses). */
  resolveAll?: ResolveAll;
  /** Values never to quote in an error (workflow secrets, in every form they are sent in). */
  secrets?: readonly string[];
}

export const HTTP_DEFAULT_TIMEOUT_MS = 60_000;
export const HTTP_DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024;
const MAX_REDIRECTS = 5;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Headers node computes itself; letting a step set them invites request smuggling. */
export const FORBIDDEN_HEADERS: ReadonlySet<string> = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'upgrade',
]);
/** An HTTP header name (RFC 9110 token). */
export const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Request headers that carry credentials: dropped on a cross-origin redirect, scrubbed from messages. */
const SENSITIVE_HEADER = /authorization|cookie|token|secret|key|password|session/i;
/** Response headers worth keeping in `detail`; never set-cookie or anything a server might echo. */
const SAFE_RESPONSE_HEADERS = [
  'content-type',
  'content-length',
  'content-language',
  'cache-control',
  'etag',
  'last-modified',
  'location',
  'retry-after',
  'date',
  'x-request-id',
  'request-id',
];

interface Request {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body: Buffer | undefined;
  expected: (status: number) => boolean;
  timeout: number;
  maxBytes: number;
  keepOrigin: boolean;
}

/**
 * Runs one `http` step.
 *
 * @example await runHttp({ url: 'https://api.example.com/items', method: 'POST', body: { a: 1 } }, ctx, { allow })
 */
export async function runHttp(
  input: HttpStepInput,
  ctx: RunContext,
  options: HttpRunnerOptions,
): Promise<OutputEnvelope> {
  const req = checkInput(input);
  const timer = new AbortController();
  const timeoutId = setTimeout(() => timer.abort(), req.timeout);
  const signal = AbortSignal.any([ctx.signal, timer.signal]);
  let { method, url, headers, body } = req;
  let redirectedFrom: URL | undefined;
  try {
    for (let hop = 0; ; hop++) {
      const addresses = await untilAborted(
        resolveChecked(url.hostname, options.allow, options.resolveAll),
        signal,
      ).catch((err: unknown) => {
        if (!redirectedFrom || !(err instanceof AppError)) throw err;
        throw new AppError(err.kind, `${display(redirectedFrom)} redirected to ${display(url)}: ${err.message}`);
      });
      const res = await send(method, url, headers, body, addresses, signal);
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if (REDIRECTS.has(status) && location && !req.expected(status)) {
        res.resume();
        if (hop === MAX_REDIRECTS) {
          throw new AppError(
            'http_status',
            `${method} ${display(req.url)} redirected more than ${MAX_REDIRECTS} times`,
          );
        }
        const next = new URL(location, url);
        if (next.protocol !== 'http:' && next.protocol !== 'https:') {
          throw new AppError(
            'permission_denied',
            `${display(url)} redirected to a ${next.protocol} URL; only http and https are followed`,
          );
        }
        // Browsers turn a redirected POST into a GET; 307/308 promise to keep the method and body.
        if (status === 303 || ((status === 301 || status === 302) && method === 'POST')) {
          if (method !== 'HEAD') method = 'GET';
          body = undefined;
          headers = withoutHeaders(headers, (name) => name === 'content-type');
        }
        if (req.keepOrigin && next.origin !== req.url.origin) {
          throw new AppError(
            'permission_denied',
            `${display(url)} redirected to another origin (${next.origin}); a step that sends secrets follows ` +
              `redirects only within ${req.url.origin}`,
          );
        }
        if (next.origin !== url.origin) headers = withoutHeaders(headers, (name) => SENSITIVE_HEADER.test(name));
        ctx.emit({ type: 'http.redirect', data: { status, from: display(url), to: display(next) } });
        redirectedFrom = url;
        url = next;
        continue;
      }
      const text = decode(
        await readCapped(res, req.maxBytes, `${method} ${display(url)}`),
        res.headers['content-type'],
      );
      if (!req.expected(status)) {
        // Redacted whole, then cut: a cut first could leave the head of a secret that no longer matches.
        const known = [...secretsOf(req), ...(options.secrets ?? [])];
        const excerpt = redact(text.replace(/\s+/g, ' ').trim(), known).slice(0, 300);
        const suffix = excerpt ? `: ${excerpt}` : '';
        throw new AppError('http_status', `${method} ${display(url)} answered ${status}${suffix}`);
      }
      const out: OutputEnvelope = {
        response: text,
        detail: { status, headers: safeHeaders(res), url: withoutCredentials(url), redirects: hop },
      };
      const data = parseJson(text);
      if (data !== undefined) out.data = data;
      return out;
    }
  } catch (err) {
    if (ctx.signal.aborted) throw abortReasonError(ctx.signal, `${method} ${display(url)}`);
    if (timer.signal.aborted) {
      throw new AppError('timeout', `${method} ${display(url)} did not finish within ${req.timeout} ms`, {
        cause: err,
      });
    }
    if (err instanceof AppError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new AppError('network', `${method} ${display(url)} failed: ${code}`, { cause: err });
  } finally {
    clearTimeout(timeoutId);
  }
}

function checkInput(input: HttpStepInput): Request {
  let url: URL;
  try {
    url = new URL(input.url);
  } catch {
    throw validationError('url', 'must be an absolute http:// or https:// URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw validationError('url', `must use http or https, not ${url.protocol}`);
  }
  const hasBody = input.body !== undefined && input.body !== null;
  const method = (input.method ?? (hasBody ? 'POST' : 'GET')).toUpperCase();
  if (!/^[A-Z]{1,20}$/.test(method)) throw validationError('method', 'must be an HTTP method such as GET or POST');
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(input.headers ?? {})) {
    if (!HEADER_NAME.test(name)) throw validationError('headers', `has an invalid name "${name}"`);
    if (FORBIDDEN_HEADERS.has(name.toLowerCase())) throw validationError(`headers.${name}`, 'is set by Switchyard');
    // The value is never echoed: it may be a secret. Node sends tab, printable ASCII and Latin-1 only.
    if (typeof value !== 'string' || /[^\t\x20-\x7e\x80-\xff]/.test(value)) {
      throw validationError(
        `headers.${name}`,
        'must be a string of printable ASCII or Latin-1 characters, without line breaks or control characters',
      );
    }
    headers[name.toLowerCase()] = value;
  }
  let body: Buffer | undefined;
  if (typeof input.body === 'string') body = Buffer.from(input.body);
  else if (hasBody) {
    body = Buffer.from(JSON.stringify(input.body));
    headers['content-type'] ??= 'application/json';
  }
  const expect = input.expect_status;
  if (expect !== undefined && (!Array.isArray(expect) || expect.length === 0 || !expect.every(isStatus))) {
    throw validationError('expect_status', 'must be a non-empty list of HTTP statuses (100–599)');
  }
  return {
    method,
    url,
    headers,
    body,
    expected: expect ? (status) => expect.includes(status) : (status) => status >= 200 && status < 300,
    timeout: positiveInt(input.timeout, 'timeout', HTTP_DEFAULT_TIMEOUT_MS, 86_400_000, ' (ms)'),
    maxBytes: positiveInt(input.max_response_bytes, 'max_response_bytes', HTTP_DEFAULT_MAX_RESPONSE_BYTES, 2 ** 31, ''),
    keepOrigin: input.keep_origin === true,
  };
}

function isStatus(value: unknown): boolean {
  return Number.isInteger(value) && (value as number) >= 100 && (value as number) <= 599;
}

function positiveInt(value: number | undefined, field: string, fallback: number, max: number, unit: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw validationError(field, `must be an integer between 1 and ${max}${unit}`);
  }
  return value;
}

function send(
  method: string,
  url: URL,
  headers: Record<string, string>,
  body: Buffer | undefined,
  addresses: LookupAddress[],
  signal: AbortSignal,
): Promise<IncomingMessage> {
  const outgoing: OutgoingHttpHeaders = { ...headers };
  if (body) outgoing['content-length'] = body.length;
  const auth = url.username ? `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}` : undefined;
  return new Promise((resolve, reject) => {
    const request = (url.protocol === 'https:' ? https : http).request(
      {
        method,
        hostname: url.hostname.replace(/^\[|\]$/g, ''),
        port: url.port || undefined,
        path: `${url.pathname}${url.search}`,
        headers: outgoing,
        auth,
        lookup: pinnedLookup(addresses),
        // A fresh socket per request: a pooled one could belong to an address checked for another host.
        agent: false,
        signal,
      },
      resolve,
    );
    request.on('error', reject);
    request.end(body);
  });
}

async function readCapped(res: IncomingMessage, maxBytes: number, what: string): Promise<Buffer> {
  const tooLarge = () => {
    res.destroy();
    return validationError('max_response_bytes', `is ${maxBytes}, and ${what} answered with a larger body`);
  };
  if (Number(res.headers['content-length']) > maxBytes) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function decode(bytes: Buffer, contentType: string | undefined): string {
  const charset = /charset="?([\w-]+)"?/i.exec(contentType ?? '')?.[1];
  try {
    return new TextDecoder(charset ?? 'utf-8').decode(bytes);
  } catch {
    return new TextDecoder('utf-8').decode(bytes);
  }
}

/** `data` is set whenever the body is JSON, whatever content-type the server claimed. */
function parseJson(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function safeHeaders(res: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of SAFE_RESPONSE_HEADERS) {
    const value = res.headers[name];
    if (typeof value === 'string') out[name] = value;
  }
  return out;
}

function withoutHeaders(headers: Record<string, string>, drop: (name: string) => boolean): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !drop(name)));
}

/** The URL as messages show it: no credentials and no query string, where API keys often travel. */
function display(url: URL): string {
  return `${url.origin}${url.pathname}${url.search ? '?…' : ''}`;
}

function withoutCredentials(url: URL): string {
  const copy = new URL(url);
  copy.username = '';
  copy.password = '';
  return copy.toString();
}

function secretsOf(req: Request): string[] {
  const secrets = Object.entries(req.headers)
    .filter(([name]) => SENSITIVE_HEADER.test(name))
    .flatMap(([, value]) => [value, ...value.split(/\s+/)]);
  if (req.url.password) secrets.push(decodeURIComponent(req.url.password));
  for (const [name, value] of req.url.searchParams) if (SENSITIVE_HEADER.test(name)) secrets.push(value);
  return secrets.filter((secret) => secret.length >= 4);
}

/** Servers sometimes echo the request back; make sure credentials never reach a stored message. */
function redact(text: string, secrets: string[]): string {
  return secrets.reduce((out, secret) => out.split(secret).join('[redacted]'), text);
}

function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
