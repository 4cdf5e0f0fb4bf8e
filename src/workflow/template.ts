/**
 * Step templates (`{{ step_1.response }}`) rendered with LiquidJS: no code evaluation, strict variables
 * and filters, own properties only, and no file system. One Liquid instance per output context, because
 * what "escaping" means depends on where the text lands: nothing in a prompt, percent-encoding in a URL,
 * JSON string escaping in a JSON text body.
 *
 * Values are data: a rendered value is written out once and never parsed as a template again, so a
 * step output that contains `{{ secret }}` stays literally `{{ secret }}`.
 */
import { Context, type Emitter, type FS, Liquid, Output, type Template, TokenKind, toValueSync } from 'liquidjs';
import { AppError } from '../errors.ts';

export const MAX_TEMPLATE_CHARS = 100 * 1024;
export const MAX_RENDERED_CHARS = 10 * 1024 * 1024;
// A synchronous render (approval messages, for_each lists, validation) holds the event loop for its
// whole length: a `for` over a huge range must stop quickly. LiquidJS charges ranges, joins and
// appends against memoryLimit; its renderLimit (a wall-clock deadline per render) bounds the rest.
// Steps render through generators instead (textRender …), which sliced-render.ts drives in slices
// that yield to the event loop, against a budget of the step's.
const RENDER_TIME_LIMIT_MS = 1000;
const MEMORY_LIMIT = 64 * 1024 * 1024;
const CACHE_ENTRIES = 1000;

/** The output of a completed step as templates see it (`step_1.response`, `step_1.data.items`). */
export interface StepOutput {
  response: string;
  data?: unknown;
  usage?: unknown;
  detail?: Record<string, unknown>;
}

export interface TemplateOptions {
  /** Definition path of the template (`steps.step_3.prompt`), named in errors. */
  field?: string;
}

/** Templates never read files: `include`, `render` and `layout` are removed, and any lookup fails. */
const refusingFs: FS = {
  exists: async () => false,
  existsSync: () => false,
  readFile: async () => refuseFile(),
  readFileSync: () => refuseFile(),
  resolve: (_dir, file) => file,
};

function refuseFile(): never {
  throw new AppError('validation', 'templates cannot read files');
}

/** How a value becomes text: JSON for objects and arrays (Liquid's default would be "[object Object]"). */
function toText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === undefined || value === null) return '';
  if (typeof value === 'object') {
    try {
      return JSON.stringify(value) ?? '';
    } catch {
      return String(value);
    }
  }
  return String(value);
}

function jsonStringContent(value: unknown): string {
  return JSON.stringify(toText(value)).slice(1, -1);
}

function createLiquid(escapeOutput?: (value: unknown) => string): Liquid {
  const liquid = new Liquid({
    strictVariables: true,
    strictFilters: true,
    ownPropertyOnly: true,
    relativeReference: false,
    dynamicPartials: false,
    fs: refusingFs,
    root: [],
    parseLimit: MAX_TEMPLATE_CHARS,
    renderLimit: RENDER_TIME_LIMIT_MS,
    memoryLimit: MEMORY_LIMIT,
    ...(escapeOutput ? { outputEscape: escapeOutput } : {}),
  });
  for (const tag of ['include', 'render', 'layout']) Reflect.deleteProperty(liquid.tags, tag);
  // `| raw` would skip the output escape and let a value break out of a URL segment or JSON string;
  // with strictFilters, removing it turns such a template into a parse error.
  if (escapeOutput) liquid.unregisterFilter('raw');
  return liquid;
}

interface Engine {
  liquid: Liquid;
  cache: Map<string, Template[]>;
}

function engine(escapeOutput?: (value: unknown) => string): Engine {
  return { liquid: createLiquid(escapeOutput), cache: new Map() };
}

const textEngine = engine();
const urlEngine = engine((value) => encodeURIComponent(toText(value)));
const jsonEngine = engine(jsonStringContent);

function prefix(options: TemplateOptions | undefined): string {
  return options?.field ? `${options.field}: ` : '';
}

function fail(message: string, options: TemplateOptions | undefined, cause?: unknown): AppError {
  return new AppError('validation', `${prefix(options)}${message}`, {
    ...(options?.field ? { field: options.field } : {}),
    ...(cause === undefined ? {} : { cause }),
  });
}

function parse(eng: Engine, tpl: string, options?: TemplateOptions): Template[] {
  if (typeof tpl !== 'string') throw fail('template must be a string', options);
  if (tpl.length > MAX_TEMPLATE_CHARS) {
    throw fail(`template is too long: ${tpl.length} characters, the limit is ${MAX_TEMPLATE_CHARS}`, options);
  }
  const cached = eng.cache.get(tpl);
  if (cached) return cached;
  let parsed: Template[];
  try {
    parsed = eng.liquid.parse(tpl);
  } catch (err) {
    throw fail(`template syntax error: ${(err as Error).message}`, options, err);
  }
  if (eng.cache.size >= CACHE_ENTRIES) {
    const oldest = eng.cache.keys().next();
    if (!oldest.done) eng.cache.delete(oldest.value);
  }
  eng.cache.set(tpl, parsed);
  return parsed;
}

/** Caps the rendered size as it grows, so a loop cannot build a huge string before we look at it. */
class BoundedEmitter implements Emitter {
  buffer = '';
  overflowed = false;

  write(html: unknown): void {
    const text = toText(html);
    if (this.buffer.length + text.length > MAX_RENDERED_CHARS) {
      this.overflowed = true;
      throw new Error('rendered output too large');
    }
    this.buffer += text;
  }
}

function newContext(liquid: Liquid, scope: object): Context {
  return new Context(scope, liquid.options, { sync: true }, { liquid });
}

function renderWith(eng: Engine, tpl: string, scope: object, options?: TemplateOptions): string {
  const templates = parse(eng, tpl, options);
  const emitter = new BoundedEmitter();
  try {
    toValueSync(eng.liquid.renderer.renderTemplates(templates, newContext(eng.liquid, scope), emitter));
  } catch (err) {
    throw renderError(err, emitter, options);
  }
  return emitter.buffer;
}

function renderError(err: unknown, emitter: BoundedEmitter | undefined, options: TemplateOptions | undefined) {
  if (err instanceof AppError) return err;
  if (emitter?.overflowed) return fail(`rendered output exceeds ${MAX_RENDERED_CHARS} characters`, options, err);
  return fail(`template error: ${(err as Error).message}`, options, err);
}

/** A generator render's time is the step budget's to bound: a wall-clock renderLimit would count the waits. */
function slicedContext(liquid: Liquid, scope: object): Context {
  return new Context(scope, liquid.options, { sync: true, renderLimit: Number.POSITIVE_INFINITY }, { liquid });
}

/** A render as a generator (see sliced-render.ts): what LiquidJS renders, with our bounds and errors. */
function* templateRender(eng: Engine, tpl: string, scope: object, options?: TemplateOptions) {
  const templates = parse(eng, tpl, options);
  const emitter = new BoundedEmitter();
  try {
    yield eng.liquid.renderer.renderTemplates(templates, slicedContext(eng.liquid, scope), emitter);
  } catch (err) {
    throw renderError(err, emitter, options);
  }
  return emitter.buffer;
}

/** Generator form of renderText, for SlicedRender. */
export function textRender(tpl: string, scope: object, options?: TemplateOptions): Generator<unknown, string> {
  return templateRender(textEngine, tpl, scope, options);
}

/** Generator form of renderUrl, for SlicedRender. */
export function urlRender(tpl: string, scope: object, options?: TemplateOptions): Generator<unknown, string> {
  return templateRender(urlEngine, tpl, scope, options);
}

/** Generator form of renderJsonText, for SlicedRender. */
export function jsonTextRender(tpl: string, scope: object, options?: TemplateOptions): Generator<unknown, string> {
  return templateRender(jsonEngine, tpl, scope, options);
}

/** Renders a prompt or transform template. Objects and arrays render as JSON. */
export function renderText(tpl: string, scope: object, options?: TemplateOptions): string {
  return renderWith(textEngine, tpl, scope, options);
}

/**
 * Renders a URL: every `{{ }}` output is percent-encoded (encodeURIComponent), so a value such as
 * `../admin?x=1&` stays one path segment or query value. The literal text of the template is not touched,
 * which also means the scheme and host must be literal: `{{ inputs.base }}/x` encodes the `://`.
 */
export function renderUrl(tpl: string, scope: object, options?: TemplateOptions): string {
  return renderWith(urlEngine, tpl, scope, options);
}

/**
 * Renders a template whose text is JSON (a string `body`): every output is escaped as the content of a
 * JSON string, so values belong inside quotes (`{"q": "{{ inputs.topic }}"}`) and cannot close them.
 * To send a structured value, use an object body with a whole-string `{{ expr }}` (see renderJson).
 */
export function renderJsonText(tpl: string, scope: object, options?: TemplateOptions): string {
  return renderWith(jsonEngine, tpl, scope, options);
}

/** The one `{{ expr }}` of a template that is nothing else (whitespace around it allowed), if it is one. */
function singleOutput(tpl: string, options?: TemplateOptions): Output | undefined {
  const templates = parse(textEngine, tpl, options);
  const outputs = templates.filter((t) => t instanceof Output);
  if (outputs.length !== 1) return undefined;
  const rest = templates.filter((t) => !(t instanceof Output));
  const blank = rest.every((t) => {
    const token = t.token as { kind: number; getContent?: () => string };
    return token.kind === TokenKind.HTML && token.getContent?.().trim() === '';
  });
  return blank ? outputs[0] : undefined;
}

/** True when the template is exactly one `{{ expr }}` (optionally surrounded by whitespace). */
export function isSingleExpression(tpl: string): boolean {
  return singleOutput(tpl) !== undefined;
}

function evaluate(output: Output, scope: object, options?: TemplateOptions): unknown {
  let value: unknown;
  try {
    value = toValueSync(output.value.value(newContext(textEngine.liquid, scope), false));
  } catch (err) {
    throw fail(`template error: ${(err as Error).message}`, options, err);
  }
  return plainCopy(value, options);
}

function* evaluateRender(output: Output, scope: object, options?: TemplateOptions): Generator<unknown, unknown> {
  let value: unknown;
  try {
    value = yield output.value.value(slicedContext(textEngine.liquid, scope), false);
  } catch (err) {
    throw renderError(err, undefined, options);
  }
  return plainCopy(value, options);
}

function plainCopy(value: unknown, options: TemplateOptions | undefined): unknown {
  try {
    // A copy, so the caller can never mutate a stored step output through the rendered request.
    return value === undefined ? null : structuredClone(value);
  } catch (err) {
    throw fail('template value is not plain data', options, err);
  }
}

/**
 * Renders a JSON value (an HTTP `body` object, `headers`): each string that is exactly one `{{ expr }}`
 * becomes that expression's value as is (object, array, number …); every other string is rendered as
 * text. Keys are literal. The structure is built as data, never by splicing text, so a value such as
 * `"}, "admin": true, "x": "` can only ever be the content of the string it was rendered into.
 */
export function renderJson(value: unknown, scope: object, options?: TemplateOptions): unknown {
  const field = options?.field ?? '';
  if (typeof value === 'string') {
    const output = singleOutput(value, options);
    return output ? evaluate(output, scope, options) : renderText(value, scope, options);
  }
  if (Array.isArray(value)) return value.map((v, i) => renderJson(v, scope, { field: `${field}[${i}]` }));
  if (value !== null && typeof value === 'object') {
    // fromEntries defines own properties, so a "__proto__" key stays a key and never sets a prototype.
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, renderJson(v, scope, { field: field ? `${field}.${k}` : k })]),
    );
  }
  return value;
}

/** Generator form of renderJson, for SlicedRender. */
export function* jsonRender(value: unknown, scope: object, options?: TemplateOptions): Generator<unknown, unknown> {
  const field = options?.field ?? '';
  if (typeof value === 'string') {
    const output = singleOutput(value, options);
    return output ? yield* evaluateRender(output, scope, options) : yield* textRender(value, scope, options);
  }
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (const [i, v] of value.entries()) out.push(yield* jsonRender(v, scope, { field: `${field}[${i}]` }));
    return out;
  }
  if (value !== null && typeof value === 'object') {
    const entries: Array<[string, unknown]> = [];
    for (const [k, v] of Object.entries(value)) {
      entries.push([k, yield* jsonRender(v, scope, { field: field ? `${field}.${k}` : k })]);
    }
    // fromEntries defines own properties, so a "__proto__" key stays a key and never sets a prototype.
    return Object.fromEntries(entries);
  }
  return value;
}

/** Evaluates a `for_each` template: exactly one `{{ expr }}` whose value is an array. */
export function renderList(tpl: string, scope: object, options?: TemplateOptions): unknown[] {
  const output = singleOutput(tpl, options);
  if (!output) throw fail('for_each must be exactly one {{ expression }} whose value is an array', options);
  const value = evaluate(output, scope, options);
  if (!Array.isArray(value)) {
    const kind = value === null ? 'null' : typeof value;
    throw fail(`for_each must evaluate to an array, got ${kind}`, options);
  }
  return value;
}

/**
 * The names a template reads from its scope, for validation: the root variable, plus the first property
 * for `steps` and `inputs` (`step_1`, `steps.step_1`, `inputs.topic`, `item`). A dynamic lookup such as
 * `steps[x]` yields the bare root. Variables the template assigns itself (`assign`, `for`) are excluded.
 */
export function templateReferences(tpl: string, options?: TemplateOptions): string[] {
  const templates = parse(textEngine, tpl, options);
  const refs = new Set<string>();
  for (const segments of textEngine.liquid.globalVariableSegmentsSync(templates, { partials: false })) {
    const [root, first] = segments;
    if (typeof root !== 'string') continue;
    if ((root === 'steps' || root === 'inputs') && typeof first === 'string') refs.add(`${root}.${first}`);
    else refs.add(root);
  }
  return [...refs];
}

/** A `[` that opens a variable rather than indexing one (`{{ [inputs.name].response }}`). */
const COMPUTED_ROOT = /(?:^|[^\w\]\u0080-\uffff])\[/;
/** Properties Liquid computes from the whole object (`steps.size` counts its keys). */
const WHOLE_OBJECT = new Set(['size', 'first', 'last']);

/**
 * The root names a template can read from its scope (`step_1.response` and `steps.step_1` → step_1),
 * or null when they cannot be known before rendering: a name computed at render time (`[expr]`), or
 * `steps` read as a whole. Names the template assigns are included too, since an `assign` in a
 * branch not taken leaves the name to the scope. Rendering against a scope that holds only these
 * names gives the same result as against the full one, which is what keeps a step's render cost
 * independent of how many steps are upstream of it.
 */
export function scopeReads(tpl: string): Set<string> | null {
  if (typeof tpl !== 'string' || COMPUTED_ROOT.test(tpl)) return null;
  let segments: ReturnType<Liquid['variableSegmentsSync']>;
  try {
    segments = textEngine.liquid.variableSegmentsSync(parse(textEngine, tpl), { partials: false });
  } catch {
    return null; // rendering reports the error
  }
  const names = new Set<string>();
  for (const [root, first] of segments) {
    if (typeof root !== 'string') return null;
    if (root !== 'steps') names.add(root);
    else if (typeof first !== 'string' || WHOLE_OBJECT.has(first)) return null;
    else names.add(first);
  }
  return names;
}

/** Parses a template and throws the validation error a render would, without rendering it. */
export function checkTemplate(tpl: string, options?: TemplateOptions): void {
  parse(textEngine, tpl, options);
}

/**
 * The scope a step's templates see: each upstream step's output by name and under `steps`, the run's
 * inputs, and `item`/`item_index` inside a for_each. Pass only the step's upstream outputs: anything
 * else must stay an undefined variable.
 */
export function templateScope(params: {
  inputs: Record<string, unknown>;
  outputs: Record<string, StepOutput>;
  item?: unknown;
  itemIndex?: number;
  /** The run's id, as `run.id` (branch names such as docs/update-{{ run.id }}). */
  runId?: string;
}): Record<string, unknown> {
  const scope: Record<string, unknown> = { ...params.outputs, steps: { ...params.outputs }, inputs: params.inputs };
  if (params.runId !== undefined) scope.run = { id: params.runId };
  if (params.itemIndex !== undefined) {
    scope.item = params.item;
    scope.item_index = params.itemIndex;
  }
  return scope;
}
