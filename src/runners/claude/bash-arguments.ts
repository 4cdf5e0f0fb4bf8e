/**
 * A Bash rule names a command; this confines what its arguments reach (DESIGN.md "What a gate cannot
 * see"). `Bash(git diff *)` must not become `git diff --no-index /dev/null /etc/passwd` (a read outside)
 * or `git diff --output=/any/path` (a write outside). Two checks, after the rule matched:
 * - options that make a known program leave the workspace, read another repository or run a program
 *   are refused unless the rule itself names them (`Bash(git diff --no-index *)`);
 * - every argument that could be a path must, read as the kernel will (symlinks, `..`, globs expanded),
 *   stay inside the workspace and off its control files, whatever the program.
 * Git's own configuration is disarmed separately, in its environment (bash-env.ts).
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { BashPattern, Word } from './bash-command.ts';
import { compilePathGlob, UnsupportedGlobError } from './path-glob.ts';
import { isControlPath, realPathsInside } from './workspace-paths.ts';

// Global git options (before the subcommand) that change nothing but output and locking; every other
// one (-C, -c, --git-dir, --work-tree, --exec-path, --bare, -p …) picks another repository, config or
// program, so it is refused unless the rule names it.
const GIT_HARMLESS_GLOBAL = new Set(['--no-pager', '-P', '--no-optional-locks', '--literal-pathspecs']);
// Global options whose value is the next word: skipped with it, so the value is not taken for the
// subcommand (`git -C docs config …` is `config`).
const GIT_GLOBAL_WITH_VALUE = new Set([
  '-C',
  '-c',
  '--git-dir',
  '--work-tree',
  '--namespace',
  '--super-prefix',
  '--config-env',
]);
// `-c key=value` for keys that only label or format output: commits need a name when git ignores the
// user's own config (bash-env.ts).
const GIT_HARMLESS_CONFIG = new Set(['user.name', 'user.email', 'color.ui', 'core.quotepath', 'log.showsignature']);

// Subcommands whose job is to run programs or rewrite configuration: only a rule naming them admits them.
const GIT_RUNS_PROGRAMS = new Set([
  'config',
  'difftool',
  'mergetool',
  'filter-branch',
  'filter-repo',
  'submodule',
  'bisect',
  'daemon',
  'instaweb',
  'web--browse',
  'send-email',
  'upload-pack',
  'receive-pack',
  'upload-archive',
  'shell',
  'credential',
  'credential-store',
  'credential-cache',
  'hook',
  'svn',
  'p4',
  'cvsimport',
  'archimport',
]);

// Long options of any git subcommand that read or write outside the repository, pick another one, or
// run a program. Git accepts any unambiguous abbreviation (`--out=x` is `--output=x`), so a prefix of
// one of these is refused too, unless it is itself a harmless option of that spelling.
const GIT_RISKY_LONG = [
  '--output',
  '--output-directory',
  '--no-index',
  '--ext-diff',
  '--textconv',
  '--git-dir',
  '--work-tree',
  '--exec-path',
  '--exec',
  '--upload-pack',
  '--receive-pack',
  '--template',
  '--separate-git-dir',
  '--open-files-in-pager',
  '--extcmd',
  '--tool',
  '--config',
  '--config-env',
  '--namespace',
  '--super-prefix',
  '--paginate',
  '--remote',
  '--reference',
  '--reference-if-able',
  '--unsafe-paths',
];
const GIT_HARMLESS_PREFIXES = new Set(['--text', '--to', '--no-ext-diff', '--no-textconv']);

// Short options that run a program, per subcommand (clusters like `-nO` count): `git grep -O<pager>`,
// `git rebase -x <cmd>`, `git clone -u <upload-pack> -c key=value`.
const GIT_RISKY_SHORT: Record<string, string> = { grep: 'O', rebase: 'x', clone: 'uc', 'ls-remote': 'u' };

// Options of other common programs that run a command: `rg --pre=cmd`, `tar --to-command=cmd`, `tar -I cmd`.
const OTHER_RISKY: Record<string, string[]> = {
  rg: ['--pre'],
  tar: ['--to-command', '--use-compress-program', '-I', '--info-script', '--new-volume-script', '--checkpoint-action'],
};

const FIND_RISKY = new Set([
  '-exec',
  '-execdir',
  '-ok',
  '-okdir',
  '-delete',
  '-fprint',
  '-fprint0',
  '-fprintf',
  '-fls',
]);

const MAX_GLOB_MATCHES = 10_000;
const MAX_ARGUMENTS = 1000;

/**
 * Checks the words of one simple command that matched `pattern`; returns the reason to refuse, or null.
 * `dir` is where the command runs (the task's cwd, or where a `cd` earlier in the same command moved);
 * `workspaceReal` is the real path of the workspace every argument must stay in.
 */
export async function checkArguments(
  words: Word[],
  pattern: BashPattern,
  dir: string,
  workspaceReal: string,
): Promise<string | null> {
  // `Bash(*)` names no program: it is the unscoped rule written another way.
  if (pattern.words.length === 0) return null;
  // Each argument costs a few file-system calls; a command longer than any real one is not worth them.
  if (words.length > MAX_ARGUMENTS) return `the command has more than ${MAX_ARGUMENTS} words to check`;
  const optionReason = optionProblem(words, new Set(pattern.words));
  if (optionReason !== null) return optionReason;
  // Every argument, the rule's own words included: a rule confines to the workspace, and the client
  // who wrote it is under the operator's cap, which names no path outside either.
  for (let i = 1; i < words.length; i++) {
    const reason = await pathProblem(words[i]!.text, dir, workspaceReal);
    if (reason !== null) return reason;
  }
  return null;
}

/**
 * Where the rest of the command runs after this simple command: `{ dir }` for a `cd`/`pushd` into the
 * workspace (its real path), a reason for one that goes elsewhere or somewhere unknown (`cd`, `cd -`,
 * `popd`), and null for any other command. Across Bash calls Claude Code starts each one in the task's
 * cwd (CLAUDE_BASH_MAINTAIN_PROJECT_WORKING_DIR, bash-env.ts), so this is followed within one command.
 */
export async function directoryChange(
  words: Word[],
  dir: string,
  workspaceReal: string,
): Promise<{ dir: string } | { reason: string } | null> {
  const program = words[0]!.text;
  if (program === 'popd') return { reason: 'popd is not allowed: the directory it returns to is not known' };
  if (program !== 'cd' && program !== 'pushd') return null;
  const targets = words.slice(1).filter((word) => word.text === '-' || !word.text.startsWith('-'));
  if (targets.length !== 1 || targets[0]!.text === '-') {
    return { reason: `${program} needs exactly one directory inside the workspace` };
  }
  const reals = await realPathsInside(dir, workspaceReal, targets[0]!.text);
  if (reals === null) return { reason: `${program} ${JSON.stringify(targets[0]!.text)} leaves the workspace` };
  return { dir: reals.at(-1)! };
}

/**
 * True when the words of one rule name an option or subcommand that the gate refuses under another
 * rule's words (`Bash(git diff --no-index *)` under `Bash(git diff *)`): the operator's cap uses it, so
 * a client rule that unlocks more is not taken for a narrower one.
 */
export function unlocksMoreThan(inner: string[], outer: string[]): boolean {
  return (
    optionProblem(
      inner.map((text) => ({ text, glob: false })),
      new Set(outer),
    ) !== null
  );
}

function optionProblem(words: Word[], named: Set<string>): string | null {
  const program = path.basename(words[0]!.text);
  if (program === 'git') return gitOptionProblem(words, named);
  if (program === 'find') return findOptionProblem(words, named);
  return otherOptionProblem(program, words, named);
}

function refusedOption(program: string, option: string): string {
  return `the option ${JSON.stringify(option.slice(0, 100))} of ${program} is not allowed unless the Bash rule names it`;
}

function gitOptionProblem(words: Word[], named: Set<string>): string | null {
  let i = 1;
  for (; i < words.length && words[i]!.text.startsWith('-'); i++) {
    const option = words[i]!.text;
    const value = GIT_GLOBAL_WITH_VALUE.has(option) ? words[i + 1]?.text : undefined;
    if (value !== undefined) i++;
    if (GIT_HARMLESS_GLOBAL.has(option) || named.has(option)) continue;
    const key = (value ?? '').split('=', 1)[0]!.toLowerCase();
    if (option === '-c' && GIT_HARMLESS_CONFIG.has(key)) continue;
    return refusedOption('git', option);
  }
  const subcommand = words[i]?.text;
  if (subcommand === undefined) return null;
  if (GIT_RUNS_PROGRAMS.has(subcommand) && !named.has(subcommand)) {
    return `git ${subcommand} runs programs or rewrites configuration: it is not allowed unless the Bash rule names it`;
  }
  const riskyShort = GIT_RISKY_SHORT[subcommand] ?? '';
  for (const word of words.slice(i + 1)) {
    const text = word.text;
    if (text === '--') break;
    if (named.has(text)) continue;
    if (text.startsWith('--')) {
      const name = text.split('=', 1)[0]!;
      if (named.has(name) || GIT_HARMLESS_PREFIXES.has(name)) continue;
      if (name.length > 2 && GIT_RISKY_LONG.some((risky) => risky.startsWith(name))) return refusedOption('git', text);
    } else if (text.startsWith('-') && [...riskyShort].some((letter) => text.slice(1).includes(letter))) {
      return refusedOption(`git ${subcommand}`, text);
    }
  }
  return null;
}

function findOptionProblem(words: Word[], named: Set<string>): string | null {
  for (const word of words.slice(1)) {
    if (FIND_RISKY.has(word.text) && !named.has(word.text)) return refusedOption('find', word.text);
  }
  return null;
}

function otherOptionProblem(program: string, words: Word[], named: Set<string>): string | null {
  const risky = OTHER_RISKY[program];
  if (risky === undefined) return null;
  for (const word of words.slice(1)) {
    const name = word.text.split('=', 1)[0]!;
    if (named.has(name)) continue;
    if (
      risky.some((option) => name === option || (option.startsWith('--') && name.length > 3 && option.startsWith(name)))
    ) {
      return refusedOption(program, word.text);
    }
    if (word.text === '--') break;
  }
  return null;
}

/**
 * An argument that could name a file, checked where it lands. Options are read for their value
 * (`--output=x`, `-fx/y`); a bare option word names no file.
 */
async function pathProblem(text: string, dir: string, workspaceReal: string): Promise<string | null> {
  let value = text;
  if (text.startsWith('--')) {
    const eq = text.indexOf('=');
    if (eq === -1) return null;
    value = text.slice(eq + 1);
  } else if (text.startsWith('-')) {
    // `-o../out`, `-O/bin/sh`: a short option with its value attached. Letters of a cluster (`-nO`)
    // read as a relative name inside the workspace, so checking them costs nothing.
    if (text.length <= 2) return null;
    value = text.slice(2);
  }
  const shown = JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}…` : text);
  // Bash expands `~` at the start of a word and after `=` or `:` in it (`--dir=~/x`, `a:~/b`).
  if (/(^|[=:])~/.test(text)) return `the argument ${shown} names the home directory, outside the workspace`;
  if (value === '' || value === '/dev/null') return null;
  // A local clone or fetch source reads the repository it names.
  if (value.startsWith('file://')) {
    const rest = value.slice('file://'.length);
    value = rest.includes('/') ? rest.slice(rest.indexOf('/')) : '/';
  }
  if (/[*?[]/.test(value)) return globProblem(value, shown, dir, workspaceReal);
  return landingProblem(value, shown, dir, workspaceReal);
}

async function landingProblem(
  value: string,
  shown: string,
  dir: string,
  workspaceReal: string,
): Promise<string | null> {
  const reals = await realPathsInside(dir, workspaceReal, value);
  if (reals === null) return `the argument ${shown} reaches outside the workspace`;
  if (reals.some(isControlPath)) {
    return `the argument ${shown} names .claude/, .git/ or .mcp.json, which no command may touch`;
  }
  return null;
}

/**
 * Bash replaces a glob with the names it matches, so each of those is checked. Bash never lets a
 * wildcard match a leading dot, so only a pattern that spells a dot segment could reach `..`; such
 * patterns are refused outright rather than modelled.
 */
async function globProblem(pattern: string, shown: string, dir: string, workspaceReal: string): Promise<string | null> {
  if (path.isAbsolute(pattern) || pattern.split('/').some((segment) => segment.startsWith('.'))) {
    return `the argument ${shown} is a pattern that may reach outside the workspace`;
  }
  let matches: string[] | null;
  try {
    matches = await expandGlob(pattern, dir);
  } catch (err) {
    if (err instanceof UnsupportedGlobError) return `the argument ${shown} is a pattern the gate cannot check`;
    throw err;
  }
  if (matches === null) return `the argument ${shown} matches too many files to check`;
  for (const match of matches) {
    const reason = await landingProblem(match, JSON.stringify(match), dir, workspaceReal);
    if (reason !== null) return `${reason} (matched by ${shown})`;
  }
  return null;
}

/**
 * The names Bash would put in place of `pattern`, expanded segment by segment the way Bash does it:
 * through symlinked directories. The matcher (path-glob.ts: linear time, since the pattern is the
 * model's) matches at least what Bash's globbing does (dot files too, braces and extglobs), so nothing
 * Bash would reach is missed. Null when the expansion grows past what is worth checking.
 */
async function expandGlob(pattern: string, dir: string): Promise<string[] | null> {
  let current = [''];
  let listed = 0;
  for (const segment of pattern.split('/').filter((s) => s !== '')) {
    if (!/[*?[]/.test(segment)) {
      current = current.map((base) => (base === '' ? segment : `${base}/${segment}`));
      continue;
    }
    const isMatch = compilePathGlob(segment);
    const next: string[] = [];
    for (const base of current) {
      let names: string[];
      try {
        names = await readdir(path.join(dir, base));
      } catch {
        continue; // not a directory (or gone): Bash matches nothing below it either
      }
      listed += names.length;
      if (listed > MAX_GLOB_MATCHES) return null;
      for (const name of names) if (isMatch(name)) next.push(base === '' ? name : `${base}/${name}`);
    }
    current = next;
  }
  return current;
}
