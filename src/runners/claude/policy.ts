/**
 * Compiles a client's `allowed_tools` (e.g. `["Read", "Edit(docs/**)", "Bash(git diff *)"]`) into the
 * policy the gate enforces and the tool list the SDK is given (DESIGN.md "The tool boundary").
 * Unknown names and malformed rules are validation errors naming the entry, so the API answers 400.
 *
 * @example
 * const policy = compilePolicy(['Read', 'Edit(docs/**)']);
 * policy.tools; // ['Read', 'Edit'] → the SDK's `tools` option
 * policy.rules.map(formatRule); // ['Read', 'Edit(docs/**)'] → stored on the task and shown
 */
import { AppError } from '../../errors.ts';
import { unlocksMoreThan } from './bash-arguments.ts';
import { bashPatternCovers, formatBashPattern, parseBashPattern } from './bash-command.ts';
import { compilePathGlob, UnsupportedGlobError } from './path-glob.ts';

/** `scope`: a workspace-relative glob for path tools, a command pattern for Bash, `domain:host` for WebFetch. */
export interface ToolRule {
  tool: string;
  scope?: string;
}

export interface ToolPolicy {
  rules: ToolRule[];
  /** The distinct tool names, in first-mention order: exactly the tools the SDK offers the model. */
  tools: string[];
}

/** How a tool's scope is read: a path glob, a Bash command pattern, a domain, or no scope at all. */
export type ToolKind = 'path' | 'bash' | 'domain' | 'none';

// The built-in tools of the pinned SDK (sdk-tools.d.ts) that a client may ask for. It has no MultiEdit.
const TOOL_KINDS: Record<string, ToolKind> = {
  Read: 'path',
  Glob: 'path',
  Grep: 'path',
  Edit: 'path',
  Write: 'path',
  NotebookEdit: 'path',
  Bash: 'bash',
  WebFetch: 'domain',
  WebSearch: 'none',
  TodoWrite: 'none',
};

export const KNOWN_TOOLS: readonly string[] = Object.keys(TOOL_KINDS);

export function toolKind(tool: string): ToolKind | undefined {
  return Object.hasOwn(TOOL_KINDS, tool) ? TOOL_KINDS[tool] : undefined;
}

const MAX_ENTRIES = 100;
const MAX_ENTRY_LENGTH = 500;
const ENTRY = /^([A-Za-z][A-Za-z0-9_]*)(?:\((.*)\))?$/s;
const GLOB_CHARS = /[*?[\]{}()!+@\\]/;
// `..` as a whole segment, also inside braces (`{a,..}`), so a scope cannot even name a way out.
const DOT_DOT = /(^|[/{,])\.\.($|[/},])/;
const DOMAIN = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

const matcherCache = new Map<string, (path: string) => boolean>();

/**
 * Tests a workspace-relative POSIX path against a path scope; dot files included. Linear in the path's
 * length whatever the scope (path-glob.ts), since both come from outside: the scope from the client, the
 * path from the model.
 */
export function pathScopeMatches(scope: string, relativePath: string): boolean {
  let matcher = matcherCache.get(scope);
  if (matcher === undefined) {
    matcher = compilePathGlob(scope);
    if (matcherCache.size > 1000) matcherCache.clear();
    matcherCache.set(scope, matcher);
  }
  return matcher(relativePath);
}

/**
 * For a scope of the form `dir/**` (or `**`), the directory whose whole subtree it admits ('' for the
 * workspace); undefined for any other shape, whose subtree we do not try to reason about.
 */
export function subtreeBase(scope: string): string | undefined {
  if (scope === '**') return '';
  if (!scope.endsWith('/**')) return undefined;
  const base = scope.slice(0, -3);
  return base !== '' && !GLOB_CHARS.test(base) ? base : undefined;
}

/** Sound but incomplete: true only when every path `inner` matches is certainly matched by `outer`. */
function pathScopeCovers(outer: string, inner: string): boolean {
  if (outer === inner || outer === '**') return true;
  if (!GLOB_CHARS.test(inner)) return pathScopeMatches(outer, inner);
  const base = subtreeBase(outer);
  const literalPrefix = inner.slice(0, inner.search(GLOB_CHARS));
  return base !== undefined && literalPrefix.startsWith(`${base}/`);
}

function domainCovers(outer: string, inner: string): boolean {
  const o = outer.slice('domain:'.length);
  const i = inner.slice('domain:'.length);
  return i === o || i.endsWith(`.${o}`);
}

function scopeCovers(kind: ToolKind, outer: string, inner: string): boolean {
  if (kind === 'path') return pathScopeCovers(outer, inner);
  if (kind === 'domain') return domainCovers(outer, inner);
  if (kind === 'bash') {
    const o = parseBashPattern(outer);
    const i = parseBashPattern(inner);
    // Words the inner rule adds may name options the gate refuses under the outer one.
    return (
      typeof o !== 'string' && typeof i !== 'string' && bashPatternCovers(o, i) && !unlocksMoreThan(i.words, o.words)
    );
  }
  return false;
}

function parenthesesBalanced(text: string): boolean {
  let depth = 0;
  for (const c of text) {
    if (c === '(') depth++;
    else if (c === ')' && --depth < 0) return false;
  }
  return depth === 0;
}

/** Validates and normalises a scope; returns `{ error }` with the broken rule when it is malformed. */
function normalizeScope(tool: string, kind: ToolKind, raw: string): { scope: string } | { error: string } {
  if (raw.trim() === '') return { error: 'has an empty scope; write the bare tool name to allow it everywhere' };
  if (!parenthesesBalanced(raw)) return { error: 'has unbalanced parentheses' };
  if (kind === 'none') return { error: `takes no scope; write "${tool}"` };
  if (kind === 'bash') {
    const pattern = parseBashPattern(raw);
    return typeof pattern === 'string' ? { error: `scope ${pattern}` } : { scope: formatBashPattern(pattern) };
  }
  if (kind === 'domain') {
    const host = raw.startsWith('domain:') ? raw.slice('domain:'.length).toLowerCase() : undefined;
    if (host === undefined || !DOMAIN.test(host)) return { error: 'scope must be "domain:" and a host name' };
    return { scope: `domain:${host}` };
  }
  let scope = raw;
  while (scope.startsWith('./')) scope = scope.slice(2);
  if (scope === '' || /^[/~]/.test(scope) || /^[A-Za-z]:/.test(scope)) {
    return { error: 'scope must be a glob relative to the workspace (no leading /, ~ or drive)' };
  }
  if (DOT_DOT.test(scope)) return { error: 'scope must not contain ".." segments' };
  try {
    compilePathGlob(scope);
  } catch (err) {
    if (!(err instanceof UnsupportedGlobError)) throw err;
    return { error: `scope ${err.message}` };
  }
  return { scope };
}

/**
 * Compiles `allowed_tools`; omitted means no tools at all. With `cap` (the operator's ceiling), each
 * rule must be covered by a cap rule of the same tool. Throws AppError('validation') naming the entry.
 */
export function compilePolicy(allowedTools: unknown, options: { cap?: ToolPolicy; field?: string } = {}): ToolPolicy {
  const field = options.field ?? 'allowed_tools';
  if (allowedTools === undefined) return { rules: [], tools: [] };
  if (!Array.isArray(allowedTools)) {
    throw new AppError('validation', `${field} must be an array of tool names like "Read" or "Edit(docs/**)"`, {
      field,
    });
  }
  if (allowedTools.length > MAX_ENTRIES) {
    throw new AppError('validation', `${field} may list at most ${MAX_ENTRIES} tools`, { field });
  }
  const rules: ToolRule[] = [];
  const seen = new Set<string>();
  for (const [index, entry] of (allowedTools as unknown[]).entries()) {
    const at = `${field}[${index}]`;
    if (typeof entry !== 'string') throw invalid(at, 'must be a string like "Read" or "Edit(docs/**)"');
    if (entry.length > MAX_ENTRY_LENGTH) throw invalid(at, `is longer than ${MAX_ENTRY_LENGTH} characters`);
    const shown = JSON.stringify(entry);
    const match = ENTRY.exec(entry.trim());
    if (match === null) {
      throw invalid(
        at,
        `${shown} is malformed: write a tool name, optionally with a scope in parentheses, like "Edit(docs/**)"`,
      );
    }
    const tool = match[1]!;
    const kind = toolKind(tool);
    if (kind === undefined) throw invalid(at, `${shown} is not a known tool (known: ${KNOWN_TOOLS.join(', ')})`);
    const rule: ToolRule = { tool };
    if (match[2] !== undefined) {
      const normalized = normalizeScope(tool, kind, match[2]);
      if ('error' in normalized) throw invalid(at, `${shown} ${normalized.error}`);
      rule.scope = normalized.scope;
    }
    if (options.cap !== undefined && !capAdmits(options.cap, kind, rule)) {
      throw invalid(at, `${shown} exceeds what the operator allows`);
    }
    const key = formatRule(rule);
    if (!seen.has(key)) {
      seen.add(key);
      rules.push(rule);
    }
  }
  return { rules, tools: [...new Set(rules.map((rule) => rule.tool))] };
}

function invalid(at: string, message: string): AppError {
  return new AppError('validation', `${at} ${message}`, { field: at });
}

function capAdmits(cap: ToolPolicy, kind: ToolKind, rule: ToolRule): boolean {
  return cap.rules.some(
    (capRule) =>
      capRule.tool === rule.tool &&
      (capRule.scope === undefined || (rule.scope !== undefined && scopeCovers(kind, capRule.scope, rule.scope))),
  );
}

/** Back to the client's spelling: `{ tool: 'Edit', scope: 'docs/**' }` → `Edit(docs/**)`. */
export function formatRule(rule: ToolRule): string {
  return rule.scope === undefined ? rule.tool : `${rule.tool}(${rule.scope})`;
}
