/**
 * Repository checkouts for claude steps (`workspace: {repo, ref}`): a fresh working copy per step of
 * a run, at `<dataDir>/checkouts/<run id>/<step>`, copied from the mirror cache (mirror-cache.ts) and
 * detached at the ref. The checkout is self-contained (objects copied, no alternates pointing into the
 * data dir), so the sandbox can bind it alone. Its `origin` is the credential-free URL and its config
 * holds no credentials: the server alone fetches and pushes, with the token in that git child's
 * environment (git-env.ts).
 *
 * A run's checkouts are removed when it ends, except, for a failed run, those of steps with
 * `keep: on_failure`; checkouts of runs that no longer run are removed at start (kept ones stay).
 */
import fs from 'node:fs';
import path from 'node:path';
import { AppError } from '../errors.ts';
import { isWithin } from '../paths.ts';
import type { AllowList, ResolveAll } from '../runners/ssrf.ts';
import { type GitConfig, gitHome, runGit } from './git-env.ts';
import { parseRepoUrl, type RepoUrl, remoteConfig, remoteError } from './git-remote.ts';
import { MirrorCache } from './mirror-cache.ts';
import { COMMIT_SHA, checkRef } from './refs.ts';

/** What is recorded beside a checkout, so a later step (or the push) knows where it came from. */
export interface CheckoutRecord {
  dir: string;
  /** The server's mirror the checkout came from, where commits are made and pushed from. */
  mirror: string;
  url: string;
  /** The ref as the step named it, and the commit it resolved to. */
  ref: string;
  sha: string;
  /** The repository's default branch (the mirror's HEAD), which a commit never pushes to. */
  defaultBranch?: string | undefined;
  /** The step's `credentials` text (a `{{ secrets.NAME }}` reference), never a value. */
  credentials?: string | undefined;
  keep: 'never' | 'on_failure';
}

export interface CheckoutRequest {
  runId: string;
  /** The step (and for_each item) the checkout is for. */
  unit: string;
  repo: string;
  ref: string;
  token?: string | undefined;
  credentials?: string | undefined;
  keep?: 'never' | 'on_failure' | undefined;
  signal?: AbortSignal | undefined;
  field: string;
}

export interface CheckoutsOptions {
  dataDir: string;
  httpAllow: AllowList;
  logger: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
  /** Limit for each network git command (clone, fetch, push), ms. */
  networkTimeoutMs?: number;
  /** Limit for each local git command, ms. */
  localTimeoutMs?: number;
  resolveAll?: ResolveAll;
}

const KEPT_MARK = '.kept';
const RUN_ID = /^[A-Za-z0-9_-]{1,128}$/;
/** A step name, and for a for_each item `.index` (a dot no step name has, so `a-1` and item 1 of `a` differ). */
const UNIT = /^[A-Za-z0-9_-]{1,128}(\.[0-9]{1,6})?$/;

export class Checkouts {
  readonly root: string;
  readonly home: string;
  /** Private files of the server's git commands (a commit's index). */
  readonly scratch: string;
  readonly #options: CheckoutsOptions;
  readonly #mirrors: MirrorCache;
  /** Work under way per run (creates, commits): a run's end waits for it before removing anything. */
  readonly #pending = new Map<string, Set<Promise<unknown>>>();

  constructor(options: CheckoutsOptions) {
    this.#options = options;
    this.root = path.join(options.dataDir, 'checkouts');
    this.home = gitHome(options.dataDir);
    this.scratch = path.join(options.dataDir, 'git', 'tmp');
    this.#mirrors = new MirrorCache(options.dataDir, this.home);
    fs.mkdirSync(this.root, { recursive: true, mode: 0o700 });
  }

  get networkTimeoutMs(): number {
    return this.#options.networkTimeoutMs ?? 600_000;
  }

  get localTimeoutMs(): number {
    return this.#options.localTimeoutMs ?? 120_000;
  }

  /** The directory of a unit's checkout; both names are checked so neither can climb out. */
  dirOf(runId: string, unit: string): string {
    if (!RUN_ID.test(runId) || !UNIT.test(unit)) throw new AppError('internal', `bad checkout name ${runId}/${unit}`);
    return path.join(this.root, runId, unit);
  }

  /** Parses the repo URL against the operator's allow-list (validation error naming `field`). */
  repoUrl(text: string, field: string): RepoUrl {
    return parseRepoUrl(text, this.#options.httpAllow, field);
  }

  /** Git configuration to reach `repo` with `token`: protocol, pinned address, credentials. */
  remote(repo: RepoUrl, token: string | undefined): Promise<GitConfig> {
    return remoteConfig(repo, token, this.#options.httpAllow, this.#options.resolveAll);
  }

  /** A fresh checkout of `req.repo` at `req.ref` (any earlier one of the same unit is replaced). */
  create(req: CheckoutRequest): Promise<CheckoutRecord> {
    return this.#track(req.runId, this.#create(req));
  }

  async #create(req: CheckoutRequest): Promise<CheckoutRecord> {
    const ref = checkRef(req.ref, `${req.field}.ref`);
    const repo = this.repoUrl(req.repo, `${req.field}.repo`);
    const dir = this.dirOf(req.runId, req.unit);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(path.dirname(dir), { recursive: true, mode: 0o700 });
    const secrets = req.token ? [req.token] : [];
    const local = { home: this.home, timeoutMs: this.localTimeoutMs, signal: req.signal, secrets };
    let remote: GitConfig;
    try {
      remote = await this.remote(repo, req.token);
    } catch (err) {
      throw err instanceof AppError && err.kind === 'permission_denied'
        ? new AppError('permission_denied', `${req.field}.repo: ${err.message}`)
        : err;
    }
    let defaultBranch: string | undefined;
    const sha = await this.#mirrors
      .update(
        { url: repo.url, remote, secrets, timeoutMs: this.networkTimeoutMs, signal: req.signal },
        async (mirror) => {
          const resolved = await resolveRef(mirror, ref, local);
          if (!resolved) {
            throw new AppError(
              'validation',
              `${req.field}.ref ${JSON.stringify(ref)} is not a branch, tag or commit of ${repo.url}`,
              {
                field: `${req.field}.ref`,
              },
            );
          }
          // A plain copy (no hardlinks, no alternates): nothing in the checkout points into the data dir.
          await runGit(['clone', '--no-checkout', '--no-hardlinks', '--quiet', '--', mirror, dir], {
            ...local,
            cwd: this.root,
            config: [['protocol.file.allow', 'always']],
          });
          defaultBranch = await runGit(['symbolic-ref', '--quiet', '--short', 'HEAD'], { ...local, cwd: mirror })
            .then((out) => out.trim() || undefined)
            .catch(() => undefined);
          return resolved;
        },
      )
      .catch((err: unknown) => {
        fs.rmSync(dir, { recursive: true, force: true });
        throw remoteError(err, 'fetching', repo.url);
      });
    try {
      await runGit(['checkout', '--quiet', '--detach', sha], { ...local, cwd: dir });
      await runGit(['remote', 'set-url', 'origin', repo.url], { ...local, cwd: dir });
    } catch (err) {
      fs.rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    const record: CheckoutRecord = {
      dir,
      mirror: this.#mirrors.pathOf(repo.url),
      url: repo.url,
      ref,
      sha,
      ...(defaultBranch ? { defaultBranch } : {}),
      ...(req.credentials ? { credentials: req.credentials } : {}),
      keep: req.keep ?? 'never',
    };
    fs.writeFileSync(`${dir}.json`, JSON.stringify(record), { mode: 0o600 });
    return record;
  }

  /** Records that the checkout's changes were committed: a later step's commit builds on `sha`. */
  committed(record: CheckoutRecord, sha: string): void {
    fs.writeFileSync(`${record.dir}.json`, JSON.stringify({ ...record, sha }), { mode: 0o600 });
  }

  /** The checkout a step of the same run made (`workspace: {from}`), or a validation error. */
  existing(runId: string, unit: string, field: string): CheckoutRecord {
    const dir = this.dirOf(runId, unit);
    let record: CheckoutRecord;
    try {
      record = JSON.parse(fs.readFileSync(`${dir}.json`, 'utf8')) as CheckoutRecord;
    } catch {
      throw new AppError(
        'validation',
        `${field} names step "${unit}", whose checkout is gone (removed when the run ended); rerun from "${unit}"`,
        { field },
      );
    }
    if (!fs.existsSync(dir))
      throw new AppError('validation', `${field}: the checkout of step "${unit}" is gone`, { field });
    return record;
  }

  /** Counts `work` as under way for the run until it settles. */
  #track<T>(runId: string, work: Promise<T>): Promise<T> {
    const set = this.#pending.get(runId) ?? new Set();
    this.#pending.set(runId, set);
    set.add(work);
    void work
      .catch(() => undefined)
      .finally(() => {
        set.delete(work);
        if (set.size === 0 && this.#pending.get(runId) === set) this.#pending.delete(runId);
      });
    return work;
  }

  /** Runs `work` (a commit and push) as part of the run, so its end waits for it. */
  during<T>(runId: string, work: () => Promise<T>): Promise<T> {
    return this.#track(runId, work());
  }

  /**
   * The run is over: its checkouts go, except those of steps with `keep: on_failure` when it failed,
   * which stay (and are logged) until an operator removes them.
   */
  async runEnded(runId: string, failed: boolean): Promise<void> {
    if (!RUN_ID.test(runId)) return;
    await Promise.allSettled([...(this.#pending.get(runId) ?? [])]);
    const runDir = path.join(this.root, runId);
    if (!fs.existsSync(runDir)) return;
    const kept: string[] = [];
    for (const entry of fs.readdirSync(runDir)) {
      if (!entry.endsWith('.json')) continue;
      const unit = entry.slice(0, -'.json'.length);
      const dir = path.join(runDir, unit);
      let keep = false;
      try {
        keep =
          failed &&
          (JSON.parse(fs.readFileSync(path.join(runDir, entry), 'utf8')) as CheckoutRecord).keep === 'on_failure';
      } catch {}
      if (keep && fs.existsSync(dir)) kept.push(dir);
    }
    if (kept.length === 0) {
      fs.rmSync(runDir, { recursive: true, force: true });
      return;
    }
    for (const entry of fs.readdirSync(runDir)) {
      const full = path.join(runDir, entry);
      if (!kept.includes(full) && !kept.includes(full.replace(/\.json$/, '')))
        fs.rmSync(full, { recursive: true, force: true });
    }
    fs.writeFileSync(path.join(runDir, KEPT_MARK), `${new Date().toISOString()}\n`);
    this.#options.logger.warn({ run: runId, checkouts: kept }, 'run failed: checkouts kept (keep: on_failure)');
  }

  /**
   * At start: removes the checkouts of runs that are no longer running (a crash left them), but not
   * those kept on failure. Returns how many runs' checkouts were removed.
   */
  async sweep(isRunning: (runId: string) => Promise<boolean>): Promise<number> {
    let removed = 0;
    for (const runId of fs.readdirSync(this.root)) {
      const runDir = path.join(this.root, runId);
      if (!isWithin(this.root, runDir) || fs.existsSync(path.join(runDir, KEPT_MARK))) continue;
      if (RUN_ID.test(runId) && (await isRunning(runId))) continue;
      fs.rmSync(runDir, { recursive: true, force: true });
      removed++;
    }
    return removed;
  }
}

/** The commit `ref` names in the mirror: a branch, then a tag, then a commit sha. */
async function resolveRef(
  mirror: string,
  ref: string,
  git: { home: string; timeoutMs: number; signal?: AbortSignal | undefined },
): Promise<string | undefined> {
  const candidates = [`refs/heads/${ref}`, `refs/tags/${ref}`];
  if (COMMIT_SHA.test(ref)) candidates.push(ref);
  for (const candidate of candidates) {
    try {
      const out = await runGit(['rev-parse', '--verify', '--quiet', `${candidate}^{commit}`], { ...git, cwd: mirror });
      const sha = out.trim();
      if (/^[0-9a-f]{40,64}$/.test(sha)) return sha;
    } catch (err) {
      if (err instanceof AppError && err.kind !== 'internal') throw err;
    }
  }
  return undefined;
}
