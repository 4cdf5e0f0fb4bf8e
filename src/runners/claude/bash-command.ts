/**
 * Splits a Bash command into simple commands and matches each against the Bash rules
 * (DESIGN.md "The tool boundary"). shell-quote alone is not a faithful Bash parser — it reads
 * `a#b; rm x` as a comment and a newline as plain whitespace — so a quote-aware pre-scan that follows
 * Bash's own quoting rules refuses every construct we do not model (substitutions, expansions,
 * redirections, subshells, comments) before shell-quote splits the rest into words and operators.
 */
import { parse } from 'shell-quote';

/** A compiled Bash rule scope: `git diff *` → words [git, diff], rest. */
export interface BashPattern {
  /** Words the command must start with; with `prefix`, the last one need only be a prefix of its word. */
  words: string[];
  /** `git log*`: the last word is a prefix, and any words may follow. */
  prefix: boolean;
  /** `git diff *`: any words (or none) may follow. */
  rest: boolean;
}

/** A word of a parsed command; `glob` when Bash would expand it against the file system. */
export interface Word {
  text: string;
  glob: boolean;
}

const RULE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;
const MAX_COMMAND_LENGTH = 100_000;
const SEPARATORS = new Set(['||', '&&', ';', '|', '&', '|&', ';;', ';&', ';;&']);
// Redirections that touch no file the model names: fd duplication and /dev/null. Anything else refused.
const HARMLESS_REDIRECTIONS = ['2>&1', '1>&2', '>&2', '2>/dev/null', '1>/dev/null', '>/dev/null', '&>/dev/null'];

/** Control characters, and whitespace JavaScript's \s (so shell-quote) splits on but Bash does not. */
function hasUnsafeChar(command: string): boolean {
  for (const ch of command) {
    const code = ch.codePointAt(0)!;
    if (ch === ' ' || ch === '\t' || ch === '\n') continue;
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f) || /\s/.test(ch)) return true;
  }
  return false;
}

/** Parses a rule scope; returns the reason as a string when it is malformed. */
export function parseBashPattern(scope: string): BashPattern | string {
  const words = scope
    .trim()
    .split(/[ \t]+/)
    .filter(Boolean);
  if (words.length === 0) return 'has an empty command';
  let prefix = false;
  let rest = false;
  const last = words[words.length - 1]!;
  if (last === '*') {
    words.pop();
    rest = true;
  } else if (last.endsWith(':*')) {
    // Claude Code's older `npm run test:*` spelling; read as the stricter word form `npm run test *`.
    words[words.length - 1] = last.slice(0, -2);
    rest = true;
  } else if (last.endsWith('*')) {
    words[words.length - 1] = last.slice(0, -1);
    prefix = true;
  }
  if (!words.every((word) => RULE_WORD.test(word))) {
    return 'must be plain words (letters, digits, _@%+=:,./-), with "*" only as the last word or at the end of it';
  }
  return { words, prefix, rest };
}

export function formatBashPattern(pattern: BashPattern): string {
  const words = [...pattern.words];
  if (pattern.prefix) words[words.length - 1] = `${words[words.length - 1]}*`;
  if (pattern.rest) words.push('*');
  return words.join(' ');
}

/** True when every command `inner` admits is also admitted by `outer` (used for the operator's cap). */
export function bashPatternCovers(outer: BashPattern, inner: BashPattern): boolean {
  const n = outer.words.length;
  for (let i = 0; i < n; i++) {
    const word = inner.words[i];
    if (word === undefined) return false;
    const innerIsPrefix = inner.prefix && i === inner.words.length - 1;
    if (outer.prefix && i === n - 1) return word.startsWith(outer.words[i]!);
    if (innerIsPrefix || word !== outer.words[i]) return false;
  }
  if (outer.rest) return true;
  return !inner.prefix && !inner.rest && inner.words.length === n;
}

function matchesPattern(words: Word[], pattern: BashPattern): boolean {
  const n = pattern.words.length;
  for (let i = 0; i < n; i++) {
    const word = words[i];
    if (word === undefined) return false;
    if (pattern.prefix && i === n - 1) {
      if (!word.text.startsWith(pattern.words[i]!)) return false;
    } else if (word.glob || word.text !== pattern.words[i]) {
      return false;
    }
  }
  return pattern.prefix || pattern.rest || words.length === n;
}

/**
 * Walks the command with Bash's quoting rules. Refuses what we do not model; otherwise returns the text
 * with unquoted newlines turned into `;` and harmless redirections blanked, ready for shell-quote.
 */
function preScan(command: string): { text: string } | { reason: string } {
  let out = '';
  let quote: "'" | '"' | null = null;
  let wordStart = true;
  // Unquoted `{` still open in the current word: an unquoted `,` or `..` inside makes Bash expand the
  // braces (`{/etc/passwd,x}`), turning one checked word into others.
  let braceDepth = 0;
  for (let i = 0; i < command.length; i++) {
    const c = command[i]!;
    if (quote === "'") {
      if (c === "'") quote = null;
      out += c;
      continue;
    }
    if (c === '\\') {
      const next = command[i + 1];
      if (next === undefined || next === '\n') return { reason: 'a trailing backslash or line continuation' };
      out += c + next;
      i++;
      wordStart = false;
      continue;
    }
    if (c === '`' || (c === '$' && command[i + 1] === '(')) return { reason: 'command substitution' };
    if (c === '$') return { reason: 'variable expansion ($)' };
    if (quote === '"') {
      if (c === '"') quote = null;
      out += c;
      continue;
    }
    if (wordStart) {
      const redirection = HARMLESS_REDIRECTIONS.find((r) => command.startsWith(r, i));
      const after = redirection === undefined ? undefined : command[i + redirection.length];
      if (redirection !== undefined && (after === undefined || ' \t\n;&|'.includes(after))) {
        out += ' ';
        i += redirection.length - 1;
        continue;
      }
    }
    if (wordStart) braceDepth = 0;
    if (c === '{') braceDepth++;
    else if (c === '}') braceDepth = Math.max(0, braceDepth - 1);
    else if (braceDepth > 0 && (c === ',' || (c === '.' && command[i + 1] === '.'))) {
      return { reason: 'brace expansion ({a,b} or {a..b})' };
    }
    if (c === "'" || c === '"') quote = c;
    else if (c === '#') return { reason: 'a comment (#)' };
    else if (c === '(' || c === ')') return { reason: 'a subshell or grouping parenthesis' };
    else if (c === '<' || c === '>') return { reason: 'a redirection or here-doc (<, >)' };
    wordStart = ' \t\n;&|'.includes(c);
    out += c === '\n' ? ';' : c;
  }
  if (quote !== null) return { reason: 'an unterminated quote' };
  return { text: out };
}

/** Splits a command into simple commands (lists of words), or gives the reason it cannot be checked. */
export function splitCommand(command: string): { commands: Word[][] } | { reason: string } {
  if (command.length > MAX_COMMAND_LENGTH) return { reason: 'the command is too long to check' };
  if (hasUnsafeChar(command)) return { reason: 'the command contains control or unusual whitespace characters' };
  const scanned = preScan(command);
  if ('reason' in scanned) return { reason: `${scanned.reason} is not allowed` };
  let entries: ReturnType<typeof parse>;
  try {
    // The pre-scan refused every `$`; should one slip through, it becomes an object and is refused below.
    entries = parse(scanned.text, () => ({ op: 'variable' }) as const);
  } catch {
    return { reason: 'the command could not be parsed' };
  }
  const commands: Word[][] = [[]];
  for (const entry of entries) {
    if (typeof entry === 'string') commands[commands.length - 1]!.push({ text: entry, glob: false });
    else if ('op' in entry && entry.op === 'glob' && 'pattern' in entry) {
      commands[commands.length - 1]!.push({ text: entry.pattern, glob: true });
    } else if ('op' in entry && SEPARATORS.has(entry.op)) commands.push([]);
    else return { reason: 'the command uses shell syntax that is not allowed' };
  }
  return { commands: commands.filter((words) => words.length > 0) };
}

/** One simple command and the patterns it matches (empty when it matches none). */
export interface MatchedCommand {
  words: Word[];
  patterns: BashPattern[];
}

/**
 * Splits a command and matches each simple command against the patterns (`'any'` for an unscoped Bash
 * rule, which still refuses substitutions and redirections). Returns the reason when the command cannot
 * be checked or a piece matches no pattern; else each piece with the patterns it matches, for the
 * argument checks (bash-arguments.ts).
 */
export function matchBashCommand(
  command: string,
  patterns: BashPattern[] | 'any',
): { commands: MatchedCommand[] } | { reason: string } {
  const split = splitCommand(command);
  if ('reason' in split) return { reason: `Bash command refused: ${split.reason}.` };
  if (split.commands.length === 0) return { reason: 'Bash command refused: the command is empty.' };
  if (patterns === 'any') return { commands: split.commands.map((words) => ({ words, patterns: [] })) };
  const commands: MatchedCommand[] = [];
  for (const words of split.commands) {
    const matching = patterns.filter((pattern) => matchesPattern(words, pattern));
    if (matching.length === 0) {
      const shown = words.map((word) => word.text).join(' ');
      const allowed = patterns.map(formatBashPattern).join(', ');
      return { reason: `Bash command refused: "${shown.slice(0, 200)}" matches no allowed Bash rule (${allowed}).` };
    }
    commands.push({ words, patterns: matching });
  }
  return { commands };
}
