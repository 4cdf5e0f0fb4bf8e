/**
 * Path scopes (`Edit(docs/**)`, `Read(src/*.{ts,js})`) compiled to RE2 regular expressions, so matching
 * a path costs time linear in its length whatever glob a client wrote: picomatch's JavaScript RegExp
 * backtracks exponentially on `*a*a*a*a*a*a*a*a*a*a*b` and would hold the event loop (and with it the
 * task's own timeout). What cannot be matched linearly (`!(…)` extglobs) is refused when compiled.
 *
 * Syntax, as picomatch with `dot: true` reads it for the paths the gate checks (resolved, workspace-
 * relative, no `.` or `..` segments): `*` and `?` within one segment, `**` as a whole segment for any
 * number of segments (none included), `[a-z]`, `[!x]`, `[[:alpha:]]`, `{a,b}` (nested), `@(a|b)`,
 * `?(x)`, `+(x)`, `*(x)`, `\` escapes, and a leading `!` that negates the whole glob. Dot files match.
 *
 * @example
 * const inDocs = compilePathGlob('docs/**');
 * inDocs('docs/api/a.md'); // true
 */
import { compileLinearRegex, type LinearRegex, MatchBudgetError } from '../../schema/linear-regex.ts';

/** A glob this module cannot match in linear time or cannot read; the message completes "scope …". */
export class UnsupportedGlobError extends Error {}

const POSIX_CLASSES = new Set([
  'alnum',
  'alpha',
  'ascii',
  'blank',
  'cntrl',
  'digit',
  'graph',
  'lower',
  'print',
  'punct',
  'space',
  'upper',
  'word',
  'xdigit',
]);
const SEGMENT = '[^/]';

function quote(char: string): string {
  return /[\\^$.|?*+()[\]{}]/.test(char) ? `\\${char}` : char;
}

function quoteInClass(char: string): string {
  return /[\\\]^[-]/.test(char) ? `\\${char}` : char;
}

/** Splits at `/` outside brackets, braces and parentheses, keeping escapes in place. */
function splitSegments(glob: string): string[] {
  const segments: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '\\') i++;
    else if (c === '{' || c === '(') depth++;
    else if ((c === '}' || c === ')') && depth > 0) depth--;
    else if (c === '/' && depth === 0) {
      segments.push(glob.slice(start, i));
      start = i + 1;
    }
  }
  segments.push(glob.slice(start));
  return segments;
}

/** Recursive descent over one segment (or a brace/paren body); `stops` end the current alternative. */
class SegmentCompiler {
  private i = 0;
  private readonly text: string;

  constructor(text: string) {
    this.text = text;
  }

  compile(): string {
    const out = this.sequence('');
    if (this.i < this.text.length) throw new UnsupportedGlobError(`has an unexpected "${this.text[this.i]}"`);
    return out === '[^/]*' ? '[^/]+' : out; // a lone `*` names something, as in picomatch
  }

  private sequence(stops: string): string {
    const t = this.text;
    let out = '';
    while (this.i < t.length) {
      const c = t[this.i]!;
      if (stops.includes(c)) return out;
      const next = t[this.i + 1];
      if (c === '\\') {
        if (next === undefined) throw new UnsupportedGlobError('ends with a lone backslash');
        out += quote(next);
        this.i += 2;
      } else if (c === '!' && next === '(') {
        throw new UnsupportedGlobError(
          'uses a !(…) pattern, which cannot be matched in linear time; list what to allow',
        );
      } else if ('?*+@'.includes(c) && next === '(') {
        this.i += 2;
        const body = this.alternatives('|', ')', 'extglob');
        out += `(?:${body})${c === '@' ? '' : c}`;
      } else if (c === '(') {
        this.i += 1;
        out += `(?:${this.alternatives('|', ')', 'extglob')})`;
      } else if (c === '*') {
        while (t[this.i] === '*') this.i++;
        out += `${SEGMENT}*`;
      } else if (c === '?') {
        out += SEGMENT;
        this.i++;
      } else if (c === '[') {
        out += this.bracket();
      } else if (c === '{') {
        out += this.brace();
      } else {
        out += quote(c);
        this.i++;
      }
    }
    return out;
  }

  /** After the opening `(` or `{`: alternatives up to the closing character, which is consumed. */
  private alternatives(separator: string, close: string, what: 'extglob' | 'brace'): string {
    const options = [this.sequence(separator + close)];
    while (this.text[this.i] === separator) {
      this.i++;
      options.push(this.sequence(separator + close));
    }
    if (this.text[this.i] !== close) {
      throw new UnsupportedGlobError(what === 'brace' ? 'has an unclosed "{"' : 'has an unclosed "("');
    }
    this.i++;
    return options.join('|');
  }

  private brace(): string {
    const start = this.i;
    const close = this.text.indexOf('}', start);
    const body = close === -1 ? '' : this.text.slice(start + 1, close);
    if (/^[^,{}]*\.\.[^,{}]*$/.test(body)) {
      throw new UnsupportedGlobError(
        `uses a brace range {${body}}, which is not supported; list the values, like {1,2,3}`,
      );
    }
    this.i++;
    const options = [this.sequence(',}')];
    while (this.text[this.i] === ',') {
      this.i++;
      options.push(this.sequence(',}'));
    }
    if (this.text[this.i] !== '}') throw new UnsupportedGlobError('has an unclosed "{"');
    this.i++;
    // `{a}` without a comma is literal text in picomatch, braces included.
    return options.length === 1 ? `\\{${options[0]}\\}` : `(?:${options.join('|')})`;
  }

  /** `[…]` as a character class that never matches `/` when negated; an unclosed `[` is literal. */
  private bracket(): string {
    const t = this.text;
    let j = this.i + 1;
    const negated = t[j] === '!' || t[j] === '^';
    if (negated) j++;
    let items = '';
    let first = true;
    while (j < t.length && (t[j] !== ']' || first)) {
      first = false;
      const posix = /^\[:([a-z]+):\]/.exec(t.slice(j, j + 10));
      if (posix) {
        if (!POSIX_CLASSES.has(posix[1]!)) throw new UnsupportedGlobError(`uses an unknown class [:${posix[1]}:]`);
        items += posix[0];
        j += posix[0].length;
        continue;
      }
      let char = t[j]!;
      if (char === '\\' && j + 1 < t.length) char = t[++j]!;
      j++;
      if (t[j] === '-' && j + 1 < t.length && t[j + 1] !== ']') {
        let end = t[j + 1]!;
        j += 2;
        if (end === '\\' && j < t.length) end = t[j++]!;
        if (end < char) throw new UnsupportedGlobError(`has a reversed range [${char}-${end}]`);
        items += `${quoteInClass(char)}-${quoteInClass(end)}`;
      } else items += quoteInClass(char);
    }
    if (j >= t.length || items === '') {
      this.i++;
      return '\\[';
    }
    this.i = j + 1;
    return negated ? `[^/${items}]` : `[${items}]`;
  }
}

/** The RE2 source matching a whole path, and whether a leading `!` negates it. */
export function pathGlobSource(glob: string): { source: string; negated: boolean } {
  let negated = false;
  let body = glob;
  while (body.startsWith('!') && body[1] !== '(') {
    negated = !negated;
    body = body.slice(1);
  }
  // `**` only as a whole segment spans segments; consecutive ones are one.
  const segments = splitSegments(body).filter((s, k, all) => !(s === '**' && all[k - 1] === '**'));
  let source = '';
  segments.forEach((segment, k) => {
    const last = k === segments.length - 1;
    if (segment === '**') {
      if (segments.length === 1) source = '.*';
      else if (k === 0) source = '(?:.*/)?';
      else if (last) source += '(?:/.*)?';
      else source += '/(?:.*/)?';
      return;
    }
    if (k > 0 && segments[k - 1] !== '**') source += '/';
    source += new SegmentCompiler(segment).compile();
  });
  return { source: `(?s)${source}`, negated };
}

/** Compiles a workspace-relative path glob to a linear-time matcher; throws UnsupportedGlobError. */
export function compilePathGlob(glob: string): (path: string) => boolean {
  const { source, negated } = pathGlobSource(glob);
  let regex: LinearRegex;
  try {
    regex = compileLinearRegex(source, { syntax: 're2' });
  } catch (err) {
    const tooLarge = err instanceof Error && /instructions/.test(String((err.cause as Error | undefined)?.message));
    throw new UnsupportedGlobError(tooLarge ? 'is too large a glob to match in linear time' : 'is not a valid glob');
  }
  return (path) => {
    try {
      return regex.matches(path) !== negated;
    } catch (err) {
      // A path too long for this glob's worst case is outside it, negated or not: the gate fails closed.
      if (err instanceof MatchBudgetError) return false;
      throw err;
    }
  };
}
