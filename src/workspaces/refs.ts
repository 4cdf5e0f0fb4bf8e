/**
 * Checks on the names a step gives git (`workspace.ref`, `commit.branch`), which come from templates
 * and so from outside: a name is a branch, tag or commit sha under git's own rules
 * (git-check-ref-format), and never something git could read as an option (`--upload-pack=…`, `-x`)
 * or a path (`../`).
 */
import { AppError } from '../errors.ts';

export const COMMIT_SHA = /^[0-9a-f]{7,64}$/i;

/** Why `name` is not a valid branch or tag name, or undefined when it is (git check-ref-format). */
export function refNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'is empty';
  if (name.length > 255) return 'is longer than 255 characters';
  if (name.startsWith('-')) return 'must not start with "-"';
  if (name.includes('..')) return 'must not contain ".."';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\x00-\x20\x7f~^:?*[\\]/.test(name)) return 'must not contain spaces, control characters or ~ ^ : ? * [ \\';
  if (name.startsWith('/') || name.endsWith('/') || name.includes('//')) return 'must not have an empty path segment';
  if (name.endsWith('.')) return 'must not end with "."';
  if (name.includes('@{') || name === '@') return 'must not contain "@{" or be "@"';
  for (const segment of name.split('/')) {
    if (segment.startsWith('.')) return 'must not have a segment starting with "."';
    if (segment.endsWith('.lock')) return 'must not have a segment ending with ".lock"';
  }
  return undefined;
}

/** Throws a validation error naming `field` unless `name` is a valid branch or tag name or a commit sha. */
export function checkRef(name: string, field: string): string {
  const problem = refNameProblem(name);
  if (problem) throw new AppError('validation', `${field} ${JSON.stringify(name.slice(0, 200))} ${problem}`, { field });
  return name;
}
