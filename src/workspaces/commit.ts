/**
 * `commit:` on a claude step with a workspace: once the agent is done, the server (never the agent)
 * stages the changed paths the step's write rules allow (`Edit(docs/**)`, `Write(out/**)`), commits
 * them as Switchyard, and with `push: true` pushes a new branch with the step's credentials, never
 * forced. Changes outside the write rules (a Bash command's, say) are left out and listed.
 * The checkout's own `.git` plays no part (see commitChanges).
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { AppError } from '../errors.ts';
import { pathScopeMatches, type ToolPolicy } from '../runners/claude/policy.ts';
import { isControlPath } from '../runners/claude/workspace-paths.ts';
import { type GitConfig, runGit } from './git-env.ts';
import { remoteError } from './git-remote.ts';

/** The identity commits are made as. */
export const COMMIT_IDENTITY = { name: 'Switchyard', email: 'switchyard@localhost' } as const;

const WRITE_TOOLS = new Set(['Edit', 'Write', 'NotebookEdit']);
/** How many paths one `git add` is given (argv stays well under the kernel's limit). */
const ADD_BATCH = 200;

export interface CommitSpec {
  /** The checkout: only its files are read, never its `.git`. */
  dir: string;
  /** The server's mirror of the repository, where the commit is made and pushed from. */
  mirror: string;
  /** The commit the changes are taken against (the checkout's, or the previous commit of a shared one). */
  base: string;
  branch: string;
  message: string;
  push: boolean;
  policy: ToolPolicy;
}

export interface CommitResult {
  commit: string | null;
  branch: string;
  pushed: boolean;
  files: string[];
  skipped: string[];
  /** Set when there was nothing to commit. */
  note?: string;
}

export interface CommitGit {
  home: string;
  /** A private directory for the index the commit is built in. */
  scratch: string;
  localTimeoutMs: number;
  networkTimeoutMs: number;
  signal?: AbortSignal | undefined;
  /** Reaching the remote for the push (git-remote.ts), with the secrets to scrub from errors. */
  remote?: { url: string; config: GitConfig; secrets: string[] };
}

/** True when a write rule of the policy admits the workspace-relative path (control files never). */
export function writableByRules(policy: ToolPolicy, relative: string): boolean {
  if (isControlPath(relative)) return false;
  return policy.rules.some(
    (rule) => WRITE_TOOLS.has(rule.tool) && (rule.scope === undefined || pathScopeMatches(rule.scope, relative)),
  );
}

/**
 * Commits (and pushes) from the server's own mirror, with the checkout only as a work tree: the
 * checkout's `.git` — config, hooks, alternates, which an agent running code could have rewritten to
 * send the push and its token elsewhere — is never read. The commit is built in a private index
 * from `base`, so only the allowed paths' contents go in.
 */
export async function commitChanges(spec: CommitSpec, git: CommitGit): Promise<CommitResult> {
  const indexFile = path.join(git.scratch, `index-${randomUUID()}`);
  const repo = { gitDir: spec.mirror, workTree: spec.dir, indexFile };
  const local = { cwd: spec.dir, home: git.home, timeoutMs: git.localTimeoutMs, signal: git.signal, repo };
  fs.mkdirSync(git.scratch, { recursive: true, mode: 0o700 });
  try {
    await runGit(['read-tree', spec.base], local);
    const status = await runGit(['status', '--porcelain=v1', '-z', '--untracked-files=all', '--no-renames'], local);
    // The second column compares the work tree with the index (the base): the first, with the
    // mirror's HEAD, says nothing about what the agent changed.
    const changed = status
      .split('\0')
      .filter((entry) => entry.length > 3 && (entry.startsWith('??') || entry[1] !== ' '))
      .map((entry) => entry.slice(3));
    const files = changed.filter((p) => writableByRules(spec.policy, p)).sort();
    const skipped = changed.filter((p) => !files.includes(p)).sort();
    if (files.length === 0) {
      return { commit: null, branch: spec.branch, pushed: false, files, skipped, note: 'nothing to commit' };
    }
    for (let i = 0; i < files.length; i += ADD_BATCH) {
      await runGit(['add', '--all', '--', ...files.slice(i, i + ADD_BATCH)], local);
    }
    const tree = (await runGit(['write-tree'], local)).trim();
    const commit = (
      await runGit(['commit-tree', tree, '-p', spec.base, '-m', spec.message], {
        ...local,
        config: [
          ['user.name', COMMIT_IDENTITY.name],
          ['user.email', COMMIT_IDENTITY.email],
        ],
      })
    ).trim();
    if (!spec.push) return { commit, branch: spec.branch, pushed: false, files, skipped };
    if (!git.remote) throw new AppError('internal', 'push without a remote');
    const { url, config, secrets } = git.remote;
    // No `+` and no --force: a branch that moved elsewhere is refused by the server, never overwritten.
    await runGit(['push', '--quiet', '--no-verify', '--', url, `${commit}:refs/heads/${spec.branch}`], {
      ...local,
      timeoutMs: git.networkTimeoutMs,
      config,
      secrets,
    }).catch((err: unknown) => {
      throw remoteError(err, `pushing ${spec.branch} to`, url);
    });
    return { commit, branch: spec.branch, pushed: true, files, skipped };
  } finally {
    fs.rmSync(indexFile, { force: true });
    fs.rmSync(`${indexFile}.lock`, { force: true });
  }
}
