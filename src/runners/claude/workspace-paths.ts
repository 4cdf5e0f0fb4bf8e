/**
 * Where a path named by the model really lands, the way the kernel will read it: symlinks followed,
 * `..` taken both lexically and after symlinks. Shared by the gate's path tools and its Bash argument
 * checks, so both confine to the same real workspace.
 */
import { lstat, realpath } from 'node:fs/promises';
import path from 'node:path';
import { isWithin } from '../../paths.ts';

/**
 * The real paths a tool would touch for `requested`, taken relative to `base` (the workspace, or a
 * directory inside it), or null when any reading of it leaves the workspace (or cannot be followed
 * safely).
 */
export async function realPathsInside(
  base: string,
  workspaceReal: string,
  requested: string,
): Promise<string[] | null> {
  // Claude Code and Bash expand a leading ~ to the home directory, which path.resolve would not.
  if (requested.startsWith('~') || requested.includes('\0')) return null;
  // Read `..` both ways: lexically (path.resolve) and as the kernel does, after symlinks; both must pass.
  const candidates = [path.resolve(base, requested)];
  if (requested.split('/').includes('..')) {
    candidates.push(path.isAbsolute(requested) ? requested : `${base}/${requested}`);
  }
  const reals: string[] = [];
  for (const candidate of candidates) {
    const real = await resolveReal(candidate);
    if (real === null || !isWithin(workspaceReal, real)) return null;
    reals.push(real);
  }
  return reals;
}

/**
 * The real path a tool would touch. For a path that does not exist yet (a new file), the deepest
 * existing ancestor is resolved and the rest appended; a dangling symlink or a `..` below a missing
 * directory cannot be followed safely, so it yields null.
 */
export async function resolveReal(absolute: string): Promise<string | null> {
  const parts = absolute.split('/');
  for (let n = parts.length; n >= 1; n--) {
    const head = parts.slice(0, n).join('/') || '/';
    try {
      await lstat(head);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') continue;
      return null;
    }
    const tail = parts.slice(n);
    if (tail.includes('..')) return null;
    try {
      return path.join(await realpath(head), ...tail);
    } catch {
      return null; // a dangling symlink or a loop: a write would land wherever it points
    }
  }
  return null;
}

/**
 * Files that make code run later: Claude Code settings and hooks (`.claude/`), MCP server commands
 * (`.mcp.json`) and git hooks and config (`.git/`). Judged on the whole real path, so a workspace that
 * itself lies inside a `.git/` or `.claude/` directory, or a link into one, is caught too.
 */
export function isControlPath(real: string): boolean {
  const segments = real.split(path.sep);
  return segments.includes('.claude') || segments.includes('.git') || segments.at(-1) === '.mcp.json';
}
