/**
 * The single gate every tool call passes (DESIGN.md "The tool boundary"): deny by default, real paths
 * (symlinks and `..` resolved) confined to the task's workspace and the rule's scope, every Bash simple
 * command matched against the Bash rules, WebFetch confined to the allowed domains and kept off internal
 * addresses (the SSRF guard). Reasons are shown to the model, so they name only what the model itself
 * asked for.
 */
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { AppError } from '../../errors.ts';
import { type AllowList, emptyAllowList, type ResolveAll, resolveChecked } from '../ssrf.ts';
import { checkArguments, directoryChange } from './bash-arguments.ts';
import { type BashPattern, matchBashCommand, parseBashPattern } from './bash-command.ts';
import { pathScopeMatches, subtreeBase, type ToolPolicy, type ToolRule, toolKind } from './policy.ts';
import { isControlPath, realPathsInside } from './workspace-paths.ts';

export type GateDecision = { allow: true } | { allow: false; reason: string };

export interface GateOptions {
  /** Internal hosts and networks WebFetch may reach (`SWITCHYARD_HTTP_ALLOW`); none by default. */
  httpAllow?: AllowList | undefined;
  /** How host names are resolved; the system resolver unless a test gives its own. */
  resolveAll?: ResolveAll;
}

const ALLOW: GateDecision = { allow: true };
const deny = (reason: string): GateDecision => ({ allow: false, reason });

// Input fields that name a file or directory. Every one present is checked, whatever the tool, so a
// field a tool quietly accepts cannot carry a path past the gate.
const PATH_FIELDS = ['file_path', 'notebook_path', 'path'] as const;
const REQUIRED_FIELD: Record<string, string> = {
  Read: 'file_path',
  Edit: 'file_path',
  Write: 'file_path',
  NotebookEdit: 'notebook_path',
};
// Glob and Grep search a directory (Grep may also name one file); the others name one file each.
const SEARCH_TOOLS = new Set(['Glob', 'Grep']);
const WRITE_TOOLS = new Set(['Edit', 'Write', 'NotebookEdit']);
/**
 * Decides one tool call. `workspace` is the task's working directory (the SDK's cwd).
 *
 * @example
 * const policy = compilePolicy(['Edit(docs/**)']);
 * await decideToolCall(policy, '/tasks/t1', 'Edit', { file_path: 'docs/a.md' }); // { allow: true }
 * await decideToolCall(policy, '/tasks/t1', 'Edit', { file_path: 'src/a.ts' });  // { allow: false, reason }
 */
export async function decideToolCall(
  policy: ToolPolicy,
  workspace: string,
  toolName: string,
  input: Record<string, unknown>,
  options: GateOptions = {},
): Promise<GateDecision> {
  const rules = policy.rules.filter((rule) => rule.tool === toolName);
  const kind = toolKind(toolName);
  if (rules.length === 0 || kind === undefined) return deny(`${toolName.slice(0, 100)} is not in allowed_tools.`);
  switch (kind) {
    case 'none':
      return ALLOW;
    case 'domain':
      return decideUrl(rules, input.url, options);
    case 'bash':
      return decideBash(rules, workspace, input.command);
    case 'path':
      return decidePaths(rules, workspace, toolName, input);
  }
}

/**
 * Every simple command must match a rule, and, for a rule that names a program, keep its arguments
 * inside the workspace (bash-arguments.ts); with two matching rules, either one admitting it is enough.
 */
async function decideBash(rules: ToolRule[], workspace: string, command: unknown): Promise<GateDecision> {
  if (typeof command !== 'string') return deny('Bash needs a command string.');
  let patterns: BashPattern[] | 'any' = 'any';
  if (rules.every((rule) => rule.scope !== undefined)) {
    patterns = rules
      .map((rule) => parseBashPattern(rule.scope!))
      .filter((p): p is BashPattern => typeof p !== 'string');
  }
  const matched = matchBashCommand(command, patterns);
  if ('reason' in matched) return deny(matched.reason);
  if (patterns === 'any') return ALLOW;
  const root = path.resolve(workspace);
  let workspaceReal: string;
  try {
    workspaceReal = await realpath(root);
  } catch {
    return deny('Bash is not available: the workspace is missing.');
  }
  // Relative arguments are read from where the command stands, which a `cd` earlier in it moves.
  let dir = root;
  for (const { words, patterns: matching } of matched.commands) {
    let reason: string | null = null;
    for (const pattern of matching) {
      reason = await checkArguments(words, pattern, dir, workspaceReal);
      if (reason === null) break;
    }
    if (reason !== null) return deny(`Bash command refused: ${reason}.`);
    const moved = await directoryChange(words, dir, workspaceReal);
    if (moved !== null && 'reason' in moved) return deny(`Bash command refused: ${moved.reason}.`);
    if (moved !== null) dir = moved.dir;
  }
  return ALLOW;
}

async function decideUrl(rules: ToolRule[], url: unknown, options: GateOptions): Promise<GateDecision> {
  if (typeof url !== 'string') return deny('WebFetch needs a url string.');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return deny('WebFetch needs an absolute http(s) URL.');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return deny('WebFetch only fetches http(s) URLs.');
  const host = parsed.hostname.toLowerCase();
  const allowed = rules.some((rule) => {
    if (rule.scope === undefined) return true;
    const domain = rule.scope.slice('domain:'.length);
    return host === domain || host.endsWith(`.${domain}`);
  });
  if (!allowed)
    return deny(`WebFetch of ${host.slice(0, 253)} is not allowed: the host is outside the allowed domains.`);
  return refuseInternal(host, options);
}

/**
 * The SSRF guard the http worker uses (src/runners/ssrf.ts), applied to every WebFetch, scoped or not:
 * a host that is, or resolves to, a loopback, private, link-local or metadata address is refused.
 * Claude Code resolves the name again when it fetches, so a name whose DNS answer changes in between
 * (rebinding) is not stopped here; only a proxy that pins the address could.
 */
async function refuseInternal(host: string, options: GateOptions): Promise<GateDecision> {
  try {
    await resolveChecked(host, options.httpAllow ?? emptyAllowList(), options.resolveAll);
    return ALLOW;
  } catch (err) {
    const shown = host.slice(0, 253);
    // The resolved address is not named: the model learns nothing about the internal network.
    if (err instanceof AppError && err.kind === 'permission_denied') {
      return deny(
        `WebFetch of ${shown} is not allowed: the host is or resolves to an internal address ` +
          '(loopback, private, link-local or cloud metadata).',
      );
    }
    return deny(`WebFetch of ${shown} is not allowed: the host name could not be resolved.`);
  }
}

async function decidePaths(
  rules: ToolRule[],
  workspace: string,
  tool: string,
  input: Record<string, unknown>,
): Promise<GateDecision> {
  const required = REQUIRED_FIELD[tool];
  if (required !== undefined && typeof input[required] !== 'string') return deny(`${tool} needs a ${required}.`);
  // Glob's pattern and Grep's glob only filter below the searched directory, unless they climb out of it.
  for (const field of ['pattern', 'glob'] as const) {
    const value = input[field];
    if (tool === (field === 'pattern' ? 'Glob' : 'Grep') && typeof value === 'string' && escapes(value)) {
      return deny(`${tool} ${field} ${show(value)} must be relative and must not contain "..".`);
    }
  }
  const named: string[] = [];
  for (const field of PATH_FIELDS) {
    const value = input[field];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'string') return deny(`${tool} ${field} must be a string.`);
    if (value !== '') named.push(value);
  }
  // Glob and Grep search the working directory when no path is given.
  if (named.length === 0 && SEARCH_TOOLS.has(tool)) named.push('.');

  const root = path.resolve(workspace);
  let workspaceReal: string;
  try {
    workspaceReal = await realpath(root);
  } catch {
    return deny(`${tool} is not available: the workspace is missing.`);
  }
  const scopes = rules.some((rule) => rule.scope === undefined) ? undefined : rules.map((rule) => rule.scope!);
  for (const requested of named) {
    const reason = await checkPath(tool, root, workspaceReal, requested, scopes);
    if (reason !== null) return deny(reason);
  }
  return ALLOW;
}

async function checkPath(
  tool: string,
  workspace: string,
  workspaceReal: string,
  requested: string,
  scopes: string[] | undefined,
): Promise<string | null> {
  const shown = show(requested);
  const reals = await realPathsInside(workspace, workspaceReal, requested);
  if (reals === null) return `${tool} of ${shown} is outside the workspace.`;
  for (const real of reals) {
    if (WRITE_TOOLS.has(tool) && isControlPath(real)) {
      return `${tool} of ${shown} is not allowed: .claude/, .git/ and .mcp.json are never writable by a task.`;
    }
    if (scopes === undefined) continue;
    const relative = path.relative(workspaceReal, real).split(path.sep).join('/');
    const searchesTree = SEARCH_TOOLS.has(tool) && !(await isFile(real));
    const allowed = scopes.some((scope) =>
      searchesTree ? coversTree(scope, relative) : pathScopeMatches(scope, relative),
    );
    if (!allowed) return `${tool} of ${shown} is outside the allowed scope (${scopes.join(', ')}).`;
  }
  return null;
}

async function isFile(real: string): Promise<boolean> {
  try {
    return (await stat(real)).isFile();
  } catch {
    return false;
  }
}

/** A directory search is in scope only when the scope admits its whole subtree (`dir/**`, `**`). */
function coversTree(scope: string, relativeDir: string): boolean {
  const base = subtreeBase(scope);
  if (base === undefined) return false;
  return base === '' || relativeDir === base || relativeDir.startsWith(`${base}/`);
}

/** An absolute, home-relative or `..` pattern (also inside braces: `{/etc/*,x}`, `{..,a}/*`). */
function escapes(pattern: string): boolean {
  return /(^|[{,])[/~\\]/.test(pattern) || /(^|[/\\{,])\.\.($|[/\\},])/.test(pattern);
}

function show(value: string): string {
  return JSON.stringify(value.length > 200 ? `${value.slice(0, 200)}…` : value);
}
