/**
 * The SSRF guard for outbound requests made on a workflow author's behalf (the `http` worker).
 *
 * A URL's host is resolved once, every resolved address is checked, and the connection is then pinned
 * to those same addresses (`pinnedLookup`), so a DNS answer that changes between check and connect
 * (rebinding) cannot smuggle a request to an internal address. Only globally routable unicast
 * addresses pass unless the operator admits a host or CIDR in `SWITCHYARD_HTTP_ALLOW`.
 */
import type { LookupAddress } from 'node:dns';
import { lookup as dnsLookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { Readable } from 'node:stream';
import ipaddr from 'ipaddr.js';
import { AppError } from '../errors.ts';

/** Hosts and networks the operator admits although they are not public (`SWITCHYARD_HTTP_ALLOW`). */
export interface AllowList {
  /** Host names admitted whatever they resolve to: lower case, no trailing dot. */
  readonly hosts: readonly string[];
  /** Networks admitted, as CIDRs (`127.0.0.1/32`, `fd00::/8`). A bare address is a /32 or /128. */
  readonly cidrs: readonly string[];
}

/** Resolves a host name to all its addresses; the seam tests use to make a name resolve anywhere. */
export type ResolveAll = (hostname: string) => Promise<LookupAddress[]>;

export const ALLOW_ENV = 'SWITCHYARD_HTTP_ALLOW';

const HOST_NAME = /^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

/** How a refused range is named in messages ("169.254.169.254 is link-local"). */
const RANGE_NAMES: Record<string, string> = {
  loopback: 'a loopback address',
  private: 'a private address',
  uniqueLocal: 'a private (unique local) address',
  linkLocal: 'link-local',
  unspecified: 'the unspecified address',
  multicast: 'multicast',
  broadcast: 'broadcast',
  carrierGradeNat: 'carrier-grade NAT (100.64.0.0/10)',
  reserved: 'reserved',
};

export function emptyAllowList(): AllowList {
  return { hosts: [], cidrs: [] };
}

/**
 * Parses `SWITCHYARD_HTTP_ALLOW`: comma-separated host names, addresses or CIDRs.
 *
 * @example parseAllowList('127.0.0.1/32, localhost, api.internal, [::1]')
 * @throws AppError `validation` (field `SWITCHYARD_HTTP_ALLOW`) naming the first entry it cannot read.
 */
export function parseAllowList(text: string | undefined): AllowList {
  const hosts: string[] = [];
  const cidrs: string[] = [];
  for (const raw of (text ?? '').split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const unbracketed = entry.replace(/^\[([^\]]+)\](\/\d+)?$/, '$1$2');
    if (unbracketed.includes('/')) {
      const [address = '', prefix = ''] = unbracketed.split('/');
      if (!isIpLiteral(address) || !/^\d{1,3}$/.test(prefix) || !ipaddr.isValidCIDR(unbracketed)) throw badEntry(entry);
      const [addr, bits] = ipaddr.parseCIDR(unbracketed);
      cidrs.push(`${addr.toString()}/${bits}`);
    } else if (isIpLiteral(unbracketed)) {
      const addr = ipaddr.parse(unbracketed);
      cidrs.push(`${addr.toString()}/${addr.kind() === 'ipv4' ? 32 : 128}`);
    } else {
      const name = normalizeHostName(entry);
      if (!HOST_NAME.test(name)) throw badEntry(entry);
      hosts.push(name);
    }
  }
  return { hosts, cidrs };
}

function badEntry(entry: string): AppError {
  return new AppError(
    'validation',
    `${ALLOW_ENV} entry "${entry}" is neither a host name nor an IP address or CIDR ` +
      '(write e.g. 127.0.0.1/32,localhost,api.internal — no schemes or ports)',
    { field: ALLOW_ENV },
  );
}

/** Strict literal check: the WHATWG URL parser has already turned `0x7f.1` and friends into dotted quads. */
function isIpLiteral(text: string): boolean {
  return ipaddr.IPv4.isValidFourPartDecimal(text) || ipaddr.IPv6.isValid(text);
}

function normalizeHostName(host: string): string {
  return host
    .toLowerCase()
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '');
}

/**
 * Why an address must not be contacted, or undefined when it may be. IPv4-mapped IPv6 addresses
 * are judged as the IPv4 address they carry; NAT64, 6to4 and Teredo prefixes, which can also embed
 * an internal IPv4 address, are not `unicast` and so are refused too.
 */
export function refusalReason(address: string, allow: AllowList): string | undefined {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    parsed = ipaddr.parse(address);
  } catch {
    return 'not a valid IP address';
  }
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) {
    parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  } else if (parsed.kind() === 'ipv6' && isIPv4Compatible(parsed as ipaddr.IPv6)) {
    // The deprecated IPv4-compatible form (::a.b.c.d), which ipaddr.js calls unicast.
    const [hi = 0, lo = 0] = (parsed as ipaddr.IPv6).parts.slice(6);
    parsed = ipaddr.fromByteArray([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
  }
  if (inAllowedNetwork(parsed, allow)) return undefined;
  const range = parsed.range();
  if (range === 'unicast') return undefined;
  return RANGE_NAMES[range] ?? `in the special-purpose range "${range}"`;
}

/** `::a.b.c.d` other than `::` and `::1`. */
function isIPv4Compatible(addr: ipaddr.IPv6): boolean {
  const { parts } = addr;
  return parts.slice(0, 6).every((p) => p === 0) && ((parts[6] ?? 0) !== 0 || (parts[7] ?? 0) > 1);
}

function inAllowedNetwork(addr: ipaddr.IPv4 | ipaddr.IPv6, allow: AllowList): boolean {
  return allow.cidrs.some((cidr) => {
    const [net, bits] = ipaddr.parseCIDR(cidr);
    return net.kind() === addr.kind() && addr.match(net, bits);
  });
}

const systemResolveAll: ResolveAll = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

/**
 * Resolves a URL host name and checks every address it resolves to; returns the addresses to connect
 * to. Refuses if any address is forbidden, so a name cannot mix a public and an internal record.
 *
 * @param hostname `URL.hostname` (IPv6 literals may keep their brackets).
 * @throws AppError `permission_denied` naming the host and the reason; `network` when the name does not resolve.
 */
export async function resolveChecked(
  hostname: string,
  allow: AllowList,
  resolveAll: ResolveAll = systemResolveAll,
): Promise<LookupAddress[]> {
  const name = normalizeHostName(hostname);
  if (isIpLiteral(name)) {
    const reason = refusalReason(name, allow);
    if (reason) throw refused(`${name} is ${reason}`);
    return [{ address: name, family: ipaddr.parse(name).kind() === 'ipv4' ? 4 : 6 }];
  }
  let addresses: LookupAddress[];
  try {
    addresses = await resolveAll(name);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'lookup failed';
    throw new AppError('network', `could not resolve ${name}: ${code}`, { cause: err });
  }
  if (addresses.length === 0) throw new AppError('network', `could not resolve ${name}: no addresses`);
  if (allow.hosts.includes(name)) return addresses;
  for (const { address } of addresses) {
    const reason = refusalReason(address, allow);
    if (reason) throw refused(`${name} resolves to ${address}, which is ${reason}`);
  }
  return addresses;
}

function refused(why: string): AppError {
  return new AppError('permission_denied', `${why}; add it to ${ALLOW_ENV} to allow`);
}

/**
 * A `lookup` for `http.request` that answers with addresses already checked, never asking DNS again:
 * the check and the connection use the same address.
 */
export function pinnedLookup(addresses: LookupAddress[]): LookupFunction {
  return (_hostname, options, callback) => {
    if (options.all) {
      callback(null, addresses);
      return;
    }
    const first = addresses[0]!;
    callback(null, first.address, first.family);
  };
}

/**
 * A `fetch` for libraries that take one (the AI SDK's providers), held to the same guard as the
 * `http` worker: the host is resolved and checked, and the connection pinned to the checked addresses.
 * Redirects are not followed (a 3xx is returned as is). Connection failures reject with a TypeError
 * "fetch failed", as the built-in fetch does, so callers classify them the same way.
 */
export function guardedFetch(allow: AllowList, resolveAll?: ResolveAll): typeof fetch {
  return async (resource, init) => {
    const request = new Request(resource, init);
    const url = new URL(request.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new AppError('validation', `${url.protocol} URLs cannot be fetched; use http or https`);
    }
    const addresses = await resolveChecked(url.hostname, allow, resolveAll);
    const body = request.body ? Buffer.from(await request.arrayBuffer()) : undefined;
    const headers: Record<string, string> = Object.fromEntries(request.headers);
    if (body) headers['content-length'] = String(body.length);
    return new Promise<Response>((resolve, reject) => {
      const outgoing = (url.protocol === 'https:' ? https : http).request(
        {
          method: request.method,
          hostname: url.hostname.replace(/^\[|\]$/g, ''),
          port: url.port || undefined,
          path: `${url.pathname}${url.search}`,
          headers,
          lookup: pinnedLookup(addresses),
          agent: false,
          ...(init?.signal ? { signal: init.signal } : {}),
        },
        (res) => {
          const status = res.statusCode ?? 0;
          const answered = new Headers();
          for (const [name, value] of Object.entries(res.headers)) {
            for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) answered.append(name, v);
          }
          const empty = request.method === 'HEAD' || status === 204 || status === 205 || status === 304;
          if (empty) res.resume();
          const stream = empty ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>);
          resolve(new Response(stream, { status, statusText: res.statusMessage ?? '', headers: answered }));
        },
      );
      outgoing.on('error', (err) =>
        reject(err.name === 'AbortError' ? err : new TypeError('fetch failed', { cause: err })),
      );
      outgoing.end(body);
    });
  };
}
