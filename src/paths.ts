/**
 * Containment of real paths, shared by the config checks (workspace roots against the data dir and the
 * install), the request's `cwd` and the gate: one definition of "inside".
 */
import fs from 'node:fs';
import path from 'node:path';

/** True when `candidate` is `root` or lies inside it (both absolute, normalised). */
export function isWithin(root: string, candidate: string): boolean {
  return candidate === root || candidate.startsWith(root.endsWith(path.sep) ? root : root + path.sep);
}

/** True when one of two paths is the other or lies inside it. */
export function overlaps(a: string, b: string): boolean {
  return isWithin(a, b) || isWithin(b, a);
}

/** The real path of `p`, or, when it does not exist yet, of its deepest existing ancestor with the rest appended. */
export function realPathOf(p: string): string {
  const absolute = path.resolve(p);
  try {
    return fs.realpathSync(absolute);
  } catch {
    const parent = path.dirname(absolute);
    return parent === absolute ? absolute : path.join(realPathOf(parent), path.basename(absolute));
  }
}
