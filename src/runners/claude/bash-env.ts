/**
 * The environment the agent's Bash commands run under, whatever its rules.
 *
 * Each Bash call starts in the task's cwd (CLAUDE_BASH_MAINTAIN_PROJECT_WORKING_DIR): the gate reads a
 * command's relative paths from there, and follows a `cd` only within the one command it checks.
 *
 * Git: a rule like `Bash(git diff *)` grants a command, and git runs programs named by its
 * configuration: `core.fsmonitor`, `core.pager`, hooks. An agent that can Write files can plant a
 * repository (`HEAD`, `objects/`, `refs/`, `config` in any folder, the workspace itself included)
 * whose `config` names such a program, and the next `git diff` would run it.
 * These variables take the highest precedence git has (command-line scope), so no repository config
 * can undo them.
 */

// Config git reads as if given with `-c`, in order. Each closes one way git runs code or leaves the
// workspace; `safe.bareRepository=explicit` is what makes a planted bare repository inert: git only
// uses a bare repository named by --git-dir or GIT_DIR, both of which the gate refuses.
const FORCED_CONFIG: ReadonlyArray<readonly [string, string]> = [
  ['safe.bareRepository', 'explicit'],
  ['core.fsmonitor', 'false'],
  ['core.hooksPath', '/dev/null'],
  ['core.pager', 'cat'],
  ['core.editor', 'true'],
  ['sequence.editor', 'true'],
  ['protocol.ext.allow', 'never'],
];

/** Variables every Claude Code child gets, whatever its tools: git ignores system and user config. */
export const GIT_SAFE_ENV: Readonly<Record<string, string>> = {
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_TERMINAL_PROMPT: '0',
  GIT_PAGER: 'cat',
  PAGER: 'cat',
  GIT_EDITOR: 'true',
  GIT_CONFIG_COUNT: String(FORCED_CONFIG.length),
  ...Object.fromEntries(
    FORCED_CONFIG.flatMap(([key, value], i) => [
      [`GIT_CONFIG_KEY_${i}`, key],
      [`GIT_CONFIG_VALUE_${i}`, value],
    ]),
  ),
};

/**
 * GIT_SAFE_ENV, a git ceiling at the workspace (git looks for a repository in the task's cwd and below,
 * never in the directories above it, which are outside the workspace the gate confines to), and Bash
 * calls that each start in the cwd.
 *
 * @example
 * env = { ...env, ...bashEnv('/srv/work/repo') }; // GIT_CEILING_DIRECTORIES=/srv/work
 */
export function bashEnv(workspace: string): Record<string, string> {
  const parent = workspace.replace(/\/+[^/]*\/*$/, '') || '/';
  return { ...GIT_SAFE_ENV, GIT_CEILING_DIRECTORIES: parent, CLAUDE_BASH_MAINTAIN_PROJECT_WORKING_DIR: '1' };
}
