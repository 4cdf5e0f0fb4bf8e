/**
 * The YAML side of reading a definition: size, nesting depth and alias limits checked before (or while)
 * the `yaml` package builds anything, so a hostile 1 MB file is refused in one linear pass instead of
 * holding the event loop for seconds (the parser's work grows with depth, and at a few thousand levels
 * it runs out of stack). Errors are AppError('validation') naming the file and line.
 */
import { type Document, isScalar, LineCounter, parseDocument, visit } from 'yaml';
import { AppError } from '../errors.ts';

export const MAX_DEFINITION_CHARS = 1024 * 1024;
/** Nesting levels a definition may use, flow (`[{`) and block (indentation, `- `) together, as json-body.ts allows for JSON. */
export const MAX_YAML_DEPTH = 64;
/** Alias expansions while building the value; a few per file is normal, a "billion laughs" needs millions. */
export const MAX_YAML_ALIASES = 100;
/**
 * Keys and list items a definition may hold: room for MAX_STEPS steps of ten fields each. Parsing
 * costs tens of microseconds per entry on the event loop, so 1 MB of `[1,1,1,…]` must not get that far.
 */
export const MAX_YAML_ENTRIES = 50_000;

export interface ParsedYaml {
  doc: Document;
  lines: LineCounter;
  value: unknown;
}

function where(filename: string | undefined, line: number, col?: number): string {
  const at = col === undefined ? `${line}` : `${line}:${col}`;
  return filename ? `${filename}:${at}` : col === undefined ? `line ${line}` : `line ${line}, column ${col}`;
}

/** Parses a definition's text into plain data; throws a validation error naming the file and line. */
export function parseDefinitionYaml(text: string, filename?: string): ParsedYaml {
  const at = filename ? `${filename}: ` : '';
  if (text.length > MAX_DEFINITION_CHARS) {
    throw new AppError('validation', `${at}definition is larger than ${MAX_DEFINITION_CHARS} characters`);
  }
  const shape = scanYamlShape(text, { maxDepth: MAX_YAML_DEPTH, maxEntries: MAX_YAML_ENTRIES });
  if (shape.tooDeepAt !== undefined) {
    throw new AppError(
      'validation',
      `${where(filename, shape.tooDeepAt)}: YAML is nested deeper than ${MAX_YAML_DEPTH} levels`,
    );
  }
  if (shape.tooManyAt !== undefined) {
    throw new AppError(
      'validation',
      `${where(filename, shape.tooManyAt)}: YAML has more than ${MAX_YAML_ENTRIES} entries (keys and list items)`,
    );
  }
  const lines = new LineCounter();
  // yaml's own uniqueKeys check compares each key with every earlier one (quadratic: seconds for a
  // 10,000-key map); duplicateKey below does the same job with a Set.
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false });
  const syntax = doc.errors[0];
  if (syntax) {
    const pos = lines.linePos(syntax.pos[0]);
    throw new AppError(
      'validation',
      `${where(filename, pos.line, pos.col)}: YAML syntax error: ${syntax.message.split('\n')[0]}`,
      {
        cause: syntax,
      },
    );
  }
  const repeated = duplicateKey(doc);
  if (repeated) {
    const pos = lines.linePos(repeated.offset);
    throw new AppError(
      'validation',
      `${where(filename, pos.line, pos.col)}: YAML error: map keys must be unique; ${JSON.stringify(repeated.key)} is repeated`,
    );
  }
  try {
    return { doc, lines, value: doc.toJS({ maxAliasCount: MAX_YAML_ALIASES }) };
  } catch (err) {
    throw new AppError('validation', `${at}YAML error: ${(err as Error).message}`, { cause: err });
  }
}

/** The first key repeated within one mapping (a repeated key is an error, not a silent override). */
function duplicateKey(doc: Document): { key: string; offset: number } | undefined {
  let found: { key: string; offset: number } | undefined;
  visit(doc, {
    Map(_, map) {
      const seen = new Set<string>();
      for (const pair of map.items) {
        if (!isScalar(pair.key)) continue;
        const key = String(pair.key.value);
        if (seen.has(key)) {
          found = { key, offset: pair.key.range?.[0] ?? 0 };
          return visit.BREAK;
        }
        seen.add(key);
      }
      return undefined;
    },
  });
  return found;
}

const SPACE = /[ \t]/;

function isBlank(char: string | undefined): boolean {
  return char === undefined || char === ' ' || char === '\t';
}

export interface YamlShape {
  /** The first line nested deeper than the limit, if any (the scan stops there). */
  tooDeepAt?: number;
  /** The line where the entries passed the limit, if they did (the scan stops there). */
  tooManyAt?: number;
  /** Block lines plus flow items: an upper bound on the keys and list items the parser would build. */
  entries: number;
}

/**
 * Depth and size of a YAML text in one linear pass, before the parser builds anything. It counts block
 * levels (each deeper indentation, each compact `- ` or `? `) plus open flow collections, skipping
 * quoted and block scalars and comments. It may count up to twice the levels the parser would, never
 * fewer: it is a guard, not a parser.
 */
export function scanYamlShape(text: string, limits: { maxDepth: number; maxEntries: number }): YamlShape {
  const { maxDepth, maxEntries } = limits;
  let entries = 0;
  const indents: number[] = [];
  let blockDepth = 0;
  let flow = 0;
  let quote: '"' | "'" | undefined;
  let blockScalarParent = -1;
  let lineNo = 0;
  let start = 0;
  while (start <= text.length) {
    if (entries > maxEntries) return { tooManyAt: lineNo, entries };
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    const line = text.slice(start, end > start && text[end - 1] === '\r' ? end - 1 : end);
    start = end + 1;
    lineNo++;
    let i = 0;
    while (line[i] === ' ') i++;
    if (blockScalarParent >= 0) {
      if (i === line.length || i > blockScalarParent) continue; // a block scalar's text, however indented
      blockScalarParent = -1;
    }
    let depth = blockDepth + flow;
    let lineIndent = indents[indents.length - 1] ?? 0;
    if (quote === undefined && flow === 0) {
      if (i === line.length || line[i] === '#') continue;
      entries++;
      // A block sequence may sit at its parent key's own indentation: count its `-` half a column in.
      const column = line[i] === '-' && isBlank(line[i + 1]) ? i + 0.5 : i;
      while (indents.length > 0 && indents[indents.length - 1]! >= column) indents.pop();
      if (column === i) indents.push(i);
      lineIndent = i;
      // `- - x` and `- a: 1` open a level per indicator, at the column where its content starts.
      while ((line[i] === '-' || line[i] === '?' || line[i] === ':') && isBlank(line[i + 1])) {
        if (line[i] === '-') indents.push(i + 0.5);
        lineIndent = i;
        i++;
        while (SPACE.test(line[i] ?? '')) i++;
        indents.push(i);
        if (indents.length > maxDepth) return { tooDeepAt: lineNo, entries };
      }
      // A block scalar right after `- ` belongs to that item; after `key:`, to the key's column.
      if (line[i] !== '|' && line[i] !== '>') lineIndent = i;
      blockDepth = indents.length;
      depth = blockDepth;
    } else i = 0;
    if (depth > maxDepth) return { tooDeepAt: lineNo, entries };
    let valueStart = quote === undefined;
    for (; i < line.length; i++) {
      const c = line[i]!;
      if (quote === '"') {
        if (c === '\\') i++;
        else if (c === '"') quote = undefined;
        continue;
      }
      if (quote === "'") {
        if (c === "'" && line[i + 1] === "'") i++;
        else if (c === "'") quote = undefined;
        continue;
      }
      if (c === ' ' || c === '\t') continue;
      if (c === '#' && (i === 0 || SPACE.test(line[i - 1]!))) break;
      if (valueStart && (c === '"' || c === "'")) {
        quote = c;
        valueStart = false;
      } else if ((c === '[' || c === '{') && (flow > 0 || valueStart)) {
        entries++;
        if (blockDepth + ++flow > maxDepth) return { tooDeepAt: lineNo, entries };
        valueStart = true;
      } else if ((c === ']' || c === '}') && flow > 0) {
        flow--;
        valueStart = false;
      } else if ((c === ',' && flow > 0) || (c === ':' && (isBlank(line[i + 1]) || flow > 0))) {
        if (c === ',') entries++;
        valueStart = true;
      } else if (valueStart && (c === '&' || c === '!')) {
        // An anchor or a tag goes before the node it names: what follows may still open a collection.
        while (i + 1 < line.length && !isBlank(line[i + 1])) i++;
      } else if (valueStart && flow === 0 && (c === '|' || c === '>')) {
        blockScalarParent = lineIndent;
        break;
      } else if (!(valueStart && (c === '-' || c === '?') && isBlank(line[i + 1]))) {
        valueStart = false;
      }
    }
  }
  return entries > maxEntries ? { tooManyAt: lineNo, entries } : { entries };
}
