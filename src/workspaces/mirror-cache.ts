/**
 * One bare mirror per repository URL under `<dataDir>/git/mirrors/<sha256 of url>.git`: cloned once
 * (`git clone --mirror`), fetched before each checkout, kept across runs. Runs check out from the
 * mirror, so a busy pipeline downloads each object once. Steps that use the same mirror at the same
 * time take turns (a queue per mirror); one server per data dir is enforced elsewhere, so an
 * in-process queue is enough.
 */
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { type GitConfig, runGit } from './git-env.ts';

export interface MirrorFetch {
  /** The credential-free URL (the mirror's `origin`). */
  url: string;
  /** Per-child configuration to reach the remote (git-remote.ts). */
  remote: GitConfig;
  secrets: string[];
  timeoutMs: number;
  signal?: AbortSignal | undefined;
}

export class MirrorCache {
  readonly #root: string;
  readonly #home: string;
  readonly #queues = new Map<string, Promise<unknown>>();

  constructor(dataDir: string, home: string) {
    this.#root = path.join(dataDir, 'git', 'mirrors');
    this.#home = home;
  }

  pathOf(url: string): string {
    return path.join(this.#root, `${createHash('sha256').update(url).digest('hex')}.git`);
  }

  /**
   * Brings the mirror of `f.url` up to date (cloning it the first time), then runs `use` with its path
   * before the next step may fetch into it.
   */
  update<T>(f: MirrorFetch, use: (mirror: string) => Promise<T>): Promise<T> {
    const dir = this.pathOf(f.url);
    return this.#serially(dir, async () => {
      const git = { home: this.#home, config: f.remote, timeoutMs: f.timeoutMs, signal: f.signal, secrets: f.secrets };
      if (fs.existsSync(path.join(dir, 'HEAD'))) {
        await runGit(['fetch', '--prune', '--', 'origin'], { ...git, cwd: dir });
        return use(dir);
      }
      // Cloned beside and renamed into place, so a clone cut off half-way never looks like a mirror.
      fs.mkdirSync(this.#root, { recursive: true, mode: 0o700 });
      const partial = path.join(this.#root, `.partial-${randomUUID()}`);
      try {
        await runGit(['clone', '--mirror', '--', f.url, partial], { ...git, cwd: this.#root });
        fs.renameSync(partial, dir);
      } finally {
        fs.rmSync(partial, { recursive: true, force: true });
      }
      return use(dir);
    });
  }

  #serially<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#queues.get(key) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(work);
    const tail = next.catch(() => undefined);
    this.#queues.set(key, tail);
    void tail.then(() => {
      if (this.#queues.get(key) === tail) this.#queues.delete(key);
    });
    return next;
  }
}
