/**
 * A repository URL a step names, and what a git child needs to reach it safely: the URL checked
 * (http(s) only, no credentials in it), its host resolved and checked by the SSRF guard, the
 * connection pinned to the checked address (`http.curloptResolve`, so a DNS answer that changes
 * between check and connect cannot redirect git), and the token as an Authorization header given to
 * that child alone.
 */
import ipaddr from 'ipaddr.js';
import { AppError } from '../errors.ts';
import { type AllowList, type ResolveAll, resolveChecked } from '../runners/ssrf.ts';
import type { GitConfig } from './git-env.ts';

export interface RepoUrl {
  /** The URL as given, credential-free: what the checkout's `origin` is set to. */
  url: string;
  protocol: 'http' | 'https';
  hostname: string;
  port: number;
}

/**
 * Parses and checks a rendered repository URL. `http://` is accepted only for a host the operator
 * admits in SWITCHYARD_HTTP_ALLOW (a git server on the local network, or the tests' loopback server);
 * everything else must be `https://`. Local paths, `file://`, `ssh://` and `ext::` are refused.
 */
export function parseRepoUrl(text: string, allow: AllowList, field: string): RepoUrl {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new AppError('validation', `${field} must be an https:// URL of a git repository`, { field });
  }
  const protocol = url.protocol.slice(0, -1);
  if (protocol !== 'https' && protocol !== 'http') {
    throw new AppError('validation', `${field} must be an https:// URL, not ${url.protocol}`, { field });
  }
  if (url.username || url.password) {
    throw new AppError('validation', `${field} must not carry credentials; use workspace.credentials`, { field });
  }
  if (url.search || url.hash) {
    throw new AppError('validation', `${field} must not have a query or fragment`, { field });
  }
  // The URL parser would fold `/a/../b` into `/b`: a value that fills a path segment must not climb.
  const rawPath = text.slice(text.indexOf('//') + 2).replace(/^[^/]*/, '');
  // A server that decodes `%2F` would see the climb inside one segment: judged decoded too.
  const segments = rawPath.split(/[/?#]/).flatMap((segment) => safeDecode(segment).split(/[/\\]/));
  if (segments.some((segment) => segment === '.' || segment === '..')) {
    throw new AppError('validation', `${field} must not have "." or ".." path segments`, { field });
  }
  const hostname = url.hostname.replace(/^\[|\]$/g, '');
  if (protocol === 'http' && !admitsPlainHttp(hostname, allow)) {
    throw new AppError(
      'validation',
      `${field} uses http://, which is allowed only for hosts listed in SWITCHYARD_HTTP_ALLOW; use https://`,
      { field },
    );
  }
  const port = url.port ? Number(url.port) : protocol === 'https' ? 443 : 80;
  return { url: url.href, protocol, hostname, port };
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function admitsPlainHttp(hostname: string, allow: AllowList): boolean {
  if (allow.hosts.includes(hostname.toLowerCase())) return true;
  if (!ipaddr.isValid(hostname)) return false;
  const addr = ipaddr.parse(hostname);
  return allow.cidrs.some((cidr) => {
    const [net, bits] = ipaddr.parseCIDR(cidr);
    return net.kind() === addr.kind() && addr.match(net, bits);
  });
}

/**
 * The configuration one git child needs to talk to `repo`: its protocol allowed, its host pinned to
 * an address the SSRF guard accepted, and the token (if any) as a header. Git would send the header
 * on a redirect too, which is why every git child runs with `http.followRedirects=false`.
 */
export async function remoteConfig(
  repo: RepoUrl,
  token: string | undefined,
  allow: AllowList,
  resolveAll?: ResolveAll,
): Promise<GitConfig> {
  const addresses = await resolveChecked(repo.hostname, allow, resolveAll);
  const address = addresses[0]!;
  const pinned = address.family === 6 ? `[${address.address}]` : address.address;
  const config: GitConfig = [[`protocol.${repo.protocol}.allow`, 'always']];
  // An address literal needs no lookup, so there is nothing to pin.
  if (!ipaddr.isValid(repo.hostname)) config.push(['http.curloptResolve', `${repo.hostname}:${repo.port}:${pinned}`]);
  if (token) {
    // GitHub's form for a token over Basic auth; servers that want Bearer accept this too.
    const basic = Buffer.from(`x-access-token:${token}`).toString('base64');
    config.push(['http.extraHeader', `Authorization: Basic ${basic}`]);
  }
  return config;
}

/**
 * A git failure talking to the remote, as a step error: authentication failures are
 * `permission_denied` (not retried), the rest `network` (retried). The message never holds the token:
 * runGit already scrubbed it.
 */
export function remoteError(err: unknown, action: string, url: string): AppError {
  if (!(err instanceof AppError) || err.kind !== 'internal') return err as AppError;
  const detail = err.message;
  if (/Authentication failed|HTTP 40[13]|returned error: 40[13]|could not read Username/i.test(detail)) {
    return new AppError(
      'permission_denied',
      `${action} ${url}: the repository refused the credentials (check workspace.credentials and the token's access)`,
    );
  }
  if (/not found|HTTP 404|returned error: 404/i.test(detail)) {
    return new AppError('validation', `${action} ${url}: repository not found (${detail})`);
  }
  return new AppError('network', `${action} ${url} failed: ${detail}`, { cause: err });
}
