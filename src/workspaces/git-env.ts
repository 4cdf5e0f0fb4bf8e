/**
 * Every git command the server runs for a checkout (clone, fetch, commit, push) goes through runGit:
 * a hardened environment built from nothing (no system or user config, an empty HOME, no prompts, no
 * hooks, no fsmonitor, no redirects), a timeout, and a kill on cancel. Credentials and the pinned
 * address of the remote reach git as configuration in the environment of that one child
 * (GIT_CONFIG_COUNT/KEY/VALUE), never on its command line, in a repository's config or in the agent's
 * environment.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { AppError } from '../errors.ts';

/** Configuration given to one git child through its environment. */
export type GitConfig = Array<[key: string, value: string]>;

export interface GitOptions {
  /** Working directory of the git child. */
  cwd: string;
  /** An empty directory that stands in as HOME: git reads no user config. */
  home: string;
  /** Extra configuration for this child only (credentials, pinned address, protocol allowances). */
  config?: GitConfig;
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  /** Secrets to cut out of any error message (stderr of a failed fetch may echo a URL). */
  secrets?: string[];
  /** Where git finds its repository, work tree and index (GIT_DIR, GIT_WORK_TREE, GIT_INDEX_FILE). */
  repo?: { gitDir: string; workTree?: string; indexFile?: string };
}

/** Most git may write to stderr before the rest is dropped (kept for the error message). */
const MAX_STDERR = 64 * 1024;
const MAX_STDOUT = 16 * 1024 * 1024;

/**
 * Settings every server-run git command gets. Protocols: everything is refused unless a command allows
 * one by name (`protocol.https.allow`), so a URL or a submodule can never reach `ext::` or a local path.
 */
const HARDENED: GitConfig = [
  ['core.hooksPath', '/dev/null'],
  ['core.fsmonitor', 'false'],
  ['core.askPass', ''],
  ['credential.helper', ''],
  ['protocol.allow', 'never'],
  ['http.followRedirects', 'false'],
  ['submodule.recurse', 'false'],
  ['fetch.recurseSubmodules', 'false'],
  ['transfer.fsckObjects', 'true'],
  // Harmless flaws common in old real-world histories; the checks that matter (paths, .gitmodules) stay.
  ['fetch.fsck.zeroPaddedFilemode', 'ignore'],
  ['fetch.fsck.badTimezone', 'ignore'],
  ['fetch.fsck.missingSpaceBeforeDate', 'ignore'],
  // Never pack or prune behind a checkout that is being copied from the mirror.
  ['gc.auto', '0'],
  ['advice.detachedHead', 'false'],
  ['init.defaultBranch', 'main'],
];

/** The environment of a git child: built from scratch, never the server's. */
export function gitEnv(home: string, config: GitConfig = []): Record<string, string> {
  const all = [...HARDENED, ...config];
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    LANG: 'C.UTF-8',
    HOME: home,
    XDG_CONFIG_HOME: home,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    GIT_ASKPASS: '/bin/false',
    SSH_ASKPASS: '/bin/false',
    GIT_NO_REPLACE_OBJECTS: '1',
    GIT_LITERAL_PATHSPECS: '1',
    GIT_CONFIG_COUNT: String(all.length),
  };
  all.forEach(([key, value], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = key;
    env[`GIT_CONFIG_VALUE_${i}`] = value;
  });
  return env;
}

function repoEnv(repo: GitOptions['repo']): Record<string, string> {
  if (!repo) return {};
  return {
    GIT_DIR: repo.gitDir,
    ...(repo.workTree ? { GIT_WORK_TREE: repo.workTree } : {}),
    ...(repo.indexFile ? { GIT_INDEX_FILE: repo.indexFile } : {}),
  };
}

/** Makes (once) the empty directory git children use as HOME, under the data dir. */
export function gitHome(dataDir: string): string {
  const home = path.join(dataDir, 'git', 'home');
  fs.mkdirSync(home, { recursive: true, mode: 0o700 });
  return home;
}

/** Replaces every secret in `text` (and its Basic-auth encoding) with [redacted]. */
export function scrub(text: string, secrets: string[] = []): string {
  let out = text;
  for (const secret of secrets) {
    if (!secret) continue;
    for (const form of [secret, Buffer.from(`x-access-token:${secret}`).toString('base64')]) {
      out = out.split(form).join('[redacted]');
    }
  }
  return out;
}

/**
 * Runs `git args` and resolves with its stdout; a non-zero exit, a timeout or a cancel rejects with an
 * AppError whose message holds git's stderr, with secrets cut out.
 */
export function runGit(args: string[], options: GitOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, {
      cwd: options.cwd,
      env: { ...gitEnv(options.home, options.config), ...repoEnv(options.repo) },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let stdout = '';
    let stderr = '';
    let stopped: AppError | undefined;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      if (stdout.length < MAX_STDOUT) stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      if (stderr.length < MAX_STDERR) stderr += chunk;
    });
    // git starts helpers (git-remote-https, pack-objects): kill the whole group it leads.
    const kill = (error: AppError) => {
      stopped ??= error;
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    };
    const what = `git ${args.find((a) => !a.startsWith('-')) ?? ''}`.trim();
    const timer = setTimeout(
      () => kill(new AppError('timeout', `${what} exceeded its timeout of ${options.timeoutMs} ms`)),
      options.timeoutMs,
    );
    const onAbort = () => kill(new AppError('cancelled', `${what} was cancelled`));
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (err) => {
      stopped ??= new AppError('internal', `could not run git: ${err.message}`);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      if (stopped) reject(stopped);
      else if (code === 0) resolve(stdout);
      else {
        // git's own lines (fatal:, error:, remote:), not its progress chatter or our paths.
        const lines = stderr.split('\n').filter((line) => /^(fatal|error|remote|hint|warning):/.test(line));
        const detail = scrub((lines.length > 0 ? lines : [stderr]).join(' ').trim(), options.secrets).slice(0, 2000);
        reject(new AppError('internal', `${what} failed (exit ${code}): ${detail}`));
      }
    });
  });
}
