/**
 * Parses and validates a workflow definition (YAML or JSON) before anything runs. Every rule failure is
 * an AppError('validation') whose `field` is a path such as `steps.step_3.depends_on[1]` and whose
 * message names the file and line (when known), the step and the rule. The first failure is reported.
 */
import type { ValidateFunction } from 'ajv/dist/2020.js';
import { type Document, isMap, isScalar, isSeq, type LineCounter } from 'yaml';
import {
  type ClaudeStep,
  checkoutSchema,
  closest,
  cronTriggerSchema,
  describeIssue,
  MAX_NAME_LENGTH,
  STEP_NAME,
  type StepDefinition,
  sharedWorkspaceSchema,
  WORKERS,
  type WorkerName,
  type WorkflowDefinition,
  webhookTriggerSchema,
  workflowSchema,
} from '../domain/workflow-definition.ts';
import { AppError } from '../errors.ts';
import { compilePolicy } from '../runners/claude/policy.ts';
import { FORBIDDEN_HEADERS, HEADER_NAME } from '../runners/http.ts';
import { compileUserSchema } from '../schema/ajv.ts';
import { MatchBudgetError } from '../schema/linear-regex.ts';
import { secretRefName } from '../secrets/secret-store.ts';
import { cronTriggerProblem, scheduleId } from '../triggers/schedules-cron.ts';
import { refNameProblem } from '../workspaces/refs.ts';
import { ancestry, findCycle } from './dag.ts';
import { parseDefinitionYaml } from './definition-yaml.ts';
import { apiKeyRule, literalOriginRule, secretRule, secretUses } from './step-secrets.ts';
import { checkTemplate, isSingleExpression, templateReferences } from './template.ts';

export type {
  ApprovalStep,
  ClaudeStep,
  HttpStep,
  LlmStep,
  StepDefinition,
  TransformStep,
  WorkerName,
  WorkflowDefinition,
} from '../domain/workflow-definition.ts';
export { workflowJsonSchema } from '../domain/workflow-definition.ts';

export interface ParseOptions {
  /** Shown at the start of every error message (`market-brief.yaml:12: …`). */
  filename?: string;
}

/** Well above the 1,000-step DAGs the engine is built for (bench/workflow-1000.ts); stops runaway definitions. */
export const MAX_STEPS = 5000;
/** Pools every engine provides; a step may name these without declaring them under `pools`. */
export const DEFAULT_POOLS = ['claude', 'llm', 'http'] as const;
/** Names templates already use for something else, so a step cannot be called that. */
const RESERVED = ['steps', 'inputs', 'secrets', 'item', 'item_index', 'run', 'forloop', 'tablerowloop', '__proto__'];
const LIQUID_LITERALS = ['true', 'false', 'nil', 'null', 'empty', 'blank'];

type Path = ReadonlyArray<string | number>;

/** A rule failure inside validation; turned into an AppError (with file and line) at the boundary. */
class Invalid extends Error {
  readonly path: Path;
  readonly rule: string;

  constructor(path: Path, rule: string) {
    super(rule);
    this.path = path;
    this.rule = rule;
  }
}

function invalid(path: Path, rule: string): never {
  throw new Invalid(path, rule);
}

/** `['steps', 'a', 'depends_on', 1]` → `steps.a.depends_on[1]`. */
export function fieldPath(path: Path): string {
  return path.reduce<string>(
    (acc, seg) => (typeof seg === 'number' ? `${acc}[${seg}]` : acc ? `${acc}.${seg}` : seg),
    '',
  );
}

/** The pool a worker's steps use when they name none; transform and approval run in the orchestrator itself. */
export function defaultPoolFor(worker: WorkerName): 'claude' | 'llm' | 'http' | undefined {
  return worker === 'claude' || worker === 'llm' || worker === 'http' ? worker : undefined;
}

/**
 * Parses YAML (JSON is YAML too) and validates it.
 *
 * @example
 * const def = parseWorkflow(await readFile('brief.yaml', 'utf8'), { filename: 'brief.yaml' });
 */
export function parseWorkflow(text: string, options: ParseOptions = {}): WorkflowDefinition {
  const { doc, lines, value } = parseDefinitionYaml(text, options.filename);
  return check(value, options, (path) => lineOf(doc, lines, path));
}

/** Validates an already parsed definition (an API body, say). */
export function validateWorkflow(obj: unknown, options: ParseOptions = {}): WorkflowDefinition {
  return check(obj, options, () => undefined);
}

function check(raw: unknown, options: ParseOptions, locate: (path: Path) => number | undefined): WorkflowDefinition {
  try {
    preCheck(raw);
    const parsed = workflowSchema.safeParse(raw);
    if (!parsed.success) {
      const { path, rule } = describeIssue(parsed.error.issues[0], raw);
      invalid(path, rule);
    }
    semanticCheck(parsed.data);
    return parsed.data;
  } catch (err) {
    if (!(err instanceof Invalid)) throw err;
    const line = locate(err.path);
    const where = options.filename ? `${options.filename}${line ? `:${line}` : ''}: ` : line ? `line ${line}: ` : '';
    const field = fieldPath(err.path);
    const [top, step] = err.path;
    let subject = field || 'the workflow';
    if (top === 'steps' && typeof step === 'string') {
      const rest = fieldPath(err.path.slice(2));
      subject = rest ? `step "${step}": ${rest}` : `step "${step}"`;
    }
    throw new AppError('validation', `${where}${subject} ${err.rule}`, { field });
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Checks step names and workers first, so these get precise messages rather than a union mismatch. */
function preCheck(raw: unknown): void {
  if (!isRecord(raw)) invalid([], 'must be a mapping with at least `name` and `steps`');
  preCheckTriggers(raw);
  const steps = raw.steps;
  if (!isRecord(steps)) return;
  const names = Object.keys(steps);
  if (names.length === 0) invalid(['steps'], 'must define at least one step');
  if (names.length > MAX_STEPS) invalid(['steps'], `must define at most ${MAX_STEPS} steps`);
  for (const name of names) {
    if (!STEP_NAME.test(name) || name.length > MAX_NAME_LENGTH) {
      invalid(
        ['steps', name],
        `is not a valid step name: use letters, digits, _ and - (${STEP_NAME.source}), at most ${MAX_NAME_LENGTH} characters`,
      );
    }
    if (RESERVED.includes(name) || LIQUID_LITERALS.includes(name)) {
      invalid(['steps', name], `uses a reserved name (${[...RESERVED, ...LIQUID_LITERALS].join(', ')})`);
    }
    const step = steps[name];
    if (!isRecord(step)) invalid(['steps', name], 'must be a mapping with a `worker`');
    if (step.worker === undefined) invalid(['steps', name, 'worker'], `is required (one of ${WORKERS.join(', ')})`);
    if (!WORKERS.includes(step.worker as WorkerName)) {
      invalid(
        ['steps', name, 'worker'],
        `"${String(step.worker)}" is not a known worker; expected one of ${WORKERS.join(', ')}`,
      );
    }
    if (step.worker === 'claude' && step.workspace !== undefined) preCheckWorkspace(raw, name, step.workspace);
  }
}

/** `workspace` is one of two shapes: judged against the one its keys choose, for a message that names the key. */
function preCheckWorkspace(raw: unknown, name: string, ws: unknown): void {
  const at = ['steps', name, 'workspace'];
  if (!isRecord(ws)) invalid(at, 'must be a mapping: {repo, ref, credentials?, keep?} or {from: <step>}');
  const parsed = (Object.hasOwn(ws, 'from') ? sharedWorkspaceSchema : checkoutSchema).safeParse(ws);
  if (parsed.success) return;
  const issue = parsed.error.issues[0];
  const { path, rule } = describeIssue(issue && { ...issue, path: [...at, ...issue.path] }, raw);
  invalid(path, rule);
}

/** A trigger is checked against the schema of its kind, so a bad field is named rather than "invalid input". */
function preCheckTriggers(raw: Record<string, unknown>): void {
  if (!Array.isArray(raw.triggers)) return;
  for (const [i, trigger] of raw.triggers.entries()) {
    const schema = isRecord(trigger) && 'webhook' in trigger ? webhookTriggerSchema : cronTriggerSchema;
    if (!isRecord(trigger) || !('cron' in trigger || 'webhook' in trigger)) {
      invalid(['triggers', i], 'must be a mapping with `cron` (a schedule) or `webhook`');
    }
    const parsed = schema.safeParse(trigger);
    if (parsed.success) continue;
    const issue = parsed.error.issues[0];
    if (issue?.code === 'unrecognized_keys' && issue.keys[0] !== undefined) {
      const inWebhook = issue.path[0] === 'webhook';
      const known = Object.keys(inWebhook ? webhookTriggerSchema.shape.webhook.shape : schema.shape);
      const hint = closest(issue.keys[0], known);
      const rule = `is not a known key (${hint ? `did you mean "${hint}"?` : `known keys: ${known.join(', ')}`})`;
      invalid(['triggers', i, ...(inWebhook ? ['webhook'] : []), issue.keys[0]], rule);
    }
    const { path, rule } = describeIssue(issue, trigger);
    invalid(['triggers', i, ...path], rule);
  }
}

/** The line of the key (or list item) a path points at, or of its nearest existing ancestor. */
function lineOf(doc: Document, lines: LineCounter, path: Path): number | undefined {
  for (let n = path.length; n > 0; n--) {
    const parent = n === 1 ? doc.contents : doc.getIn(path.slice(0, n - 1), true);
    const key = path[n - 1];
    let node: { range?: [number, number, number] | null } | undefined;
    if (isMap(parent)) {
      node = parent.items.find((pair) => (isScalar(pair.key) ? pair.key.value : pair.key) === key)?.key as typeof node;
    } else if (isSeq(parent) && typeof key === 'number') {
      node = parent.items[key] as typeof node;
    }
    if (node?.range) return lines.linePos(node.range[0]).line;
  }
  return undefined;
}

/** The same tool-rule compiler tasks use, so a rule a task would refuse never waits in a workflow. */
function checkToolRules(rules: string[], stepPath: Path): void {
  try {
    compilePolicy(rules, { field: 'allowed_tools' });
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    const index = /^allowed_tools\[(\d+)\]/.exec(err.field ?? '')?.[1];
    const path = index === undefined ? [...stepPath, 'allowed_tools'] : [...stepPath, 'allowed_tools', Number(index)];
    invalid(path, err.message.replace(/^allowed_tools(\[\d+\])?\s*/, ''));
  }
}

/** User-written schemas are strict, so a misspelled keyword is an error; formats are annotations. */
const SCHEMA_OPTIONS = { strict: true, strictTypes: false, strictTuples: false, validateFormats: false } as const;

function checkSchema(schema: unknown, path: Path): void {
  try {
    compileUserSchema(schema as object, SCHEMA_OPTIONS);
  } catch (err) {
    invalid(path, `is not a valid JSON Schema (2020-12): ${(err as Error).message}`);
  }
}

function isHttpUrl(text: string): boolean {
  try {
    const { protocol } = new URL(text);
    return protocol === 'http:' || protocol === 'https:';
  } catch {
    return false;
  }
}

/** What the http worker would refuse whatever the data: a literal non-http scheme, bad or reserved header names. */
function checkHttpStep(step: Extract<StepDefinition, { worker: 'http' }>, path: Path): void {
  const literal = step.url.split(/\{[{%]/)[0] ?? '';
  const scheme = /^\s*([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(literal)?.[1];
  const templated = literal.length < step.url.length;
  if (scheme ? !/^https?$/i.test(scheme) : !templated && !isHttpUrl(step.url)) {
    invalid(
      [...path, 'url'],
      `must be an http:// or https:// URL, not ${scheme ? `${scheme}:` : JSON.stringify(step.url)}`,
    );
  }
  for (const header of Object.keys(step.headers ?? {})) {
    if (!HEADER_NAME.test(header)) invalid([...path, 'headers', header], 'is not a valid header name');
    if (FORBIDDEN_HEADERS.has(header.toLowerCase())) invalid([...path, 'headers', header], 'is set by Switchyard');
  }
  const sendsSecrets = [step.url, ...Object.values(step.headers ?? {}), JSON.stringify(step.body ?? '')].some(
    (text) => secretUses(text).names.length > 0,
  );
  const originRule = sendsSecrets ? literalOriginRule(step.url) : undefined;
  if (originRule) invalid([...path, 'url'], originRule);
}

/**
 * `workspace` and `commit` of a claude step (src/workspaces/): what can be judged before any input is
 * known. The repo's scheme and host must be literal (templates are percent-encoded, so a value can
 * only fill the path), credentials must be a secret reference, and a literal ref or branch must be a
 * valid name.
 */
function checkWorkspace(
  def: WorkflowDefinition,
  name: string,
  step: ClaudeStep,
  isUpstream: (step: string, target: string) => boolean,
): void {
  const at = ['steps', name];
  const ws = step.workspace;
  if (step.commit && !ws) invalid([...at, 'commit'], 'needs a workspace (the commit is made in its checkout)');
  if (!ws) return;
  if (step.cwd !== undefined)
    invalid([...at, 'cwd'], 'cannot be set together with workspace (the checkout is the cwd)');
  if ('from' in ws) {
    const target = def.steps[ws.from];
    if (!target) invalid([...at, 'workspace', 'from'], `names unknown step "${ws.from}"`);
    if (!isUpstream(name, ws.from)) {
      invalid(
        [...at, 'workspace', 'from'],
        `names step "${ws.from}", which is not upstream of "${name}"; add it to depends_on`,
      );
    }
    if (target.worker !== 'claude' || !target.workspace || !('repo' in target.workspace)) {
      invalid([...at, 'workspace', 'from'], `names step "${ws.from}", which has no workspace with a repo`);
    }
    if (target.for_each !== undefined || step.for_each !== undefined) {
      invalid([...at, 'workspace', 'from'], 'cannot share a checkout with or across a for_each step');
    }
    // Two agents in one checkout at once would edit (and commit) each other's files.
    for (const [other, o] of Object.entries(def.steps)) {
      if (other === name || o.worker !== 'claude' || !o.workspace || !('from' in o.workspace)) continue;
      if (o.workspace.from !== ws.from || isUpstream(name, other) || isUpstream(other, name)) continue;
      invalid(
        [...at, 'workspace', 'from'],
        `shares the checkout of "${ws.from}" with step "${other}", and neither depends on the other; order them with depends_on`,
      );
    }
  } else {
    const literal = ws.repo.split(/\{[{%]/)[0] ?? '';
    const templated = literal.length < ws.repo.length;
    if (templated ? !/^https?:\/\/[^/?#{}]+\//i.test(literal) : !/^https?:\/\/[^/?#]+/i.test(ws.repo)) {
      invalid(
        [...at, 'workspace', 'repo'],
        'must be an https:// URL whose scheme and host are literal (a template may fill only the path)',
      );
    }
    if (ws.credentials !== undefined && secretRefName(ws.credentials) === undefined) {
      invalid([...at, 'workspace', 'credentials'], 'must be exactly {{ secrets.NAME }}, never a literal token');
    }
    if (!/\{[{%]/.test(ws.ref)) {
      const problem = refNameProblem(ws.ref);
      if (problem) invalid([...at, 'workspace', 'ref'], problem);
    }
  }
  if (step.commit && !/\{[{%]/.test(step.commit.branch)) {
    const problem = refNameProblem(step.commit.branch);
    if (problem) invalid([...at, 'commit', 'branch'], problem);
  }
}

function semanticCheck(def: WorkflowDefinition): void {
  const inputs = def.inputs ?? {};
  for (const [name, schema] of Object.entries(inputs)) checkSchema(schema, ['inputs', name]);
  const pools = new Set<string>([...DEFAULT_POOLS, ...Object.keys(def.pools ?? {})]);
  const names = Object.keys(def.steps);

  for (const [name, step] of Object.entries(def.steps)) {
    step.depends_on.forEach((dep, i) => {
      const path = ['steps', name, 'depends_on', i];
      if (dep === name) invalid(path, `names the step itself; a step cannot depend on itself`);
      if (!Object.hasOwn(def.steps, dep)) {
        const hint = closest(dep, names);
        invalid(path, `names unknown step "${dep}"${hint ? ` (did you mean "${hint}"?)` : ''}`);
      }
      if (step.depends_on.indexOf(dep) !== i) invalid(path, `repeats "${dep}"`);
    });
    if ('pool' in step && step.pool !== undefined && !pools.has(step.pool)) {
      const hint = closest(step.pool, [...pools]);
      invalid(
        ['steps', name, 'pool'],
        `names unknown pool "${step.pool}"${hint ? ` (did you mean "${hint}"?)` : ''}; declare it under pools (known pools: ${[...pools].join(', ')})`,
      );
    }
    if ('output_schema' in step && step.output_schema)
      checkSchema(step.output_schema, ['steps', name, 'output_schema']);
    if (step.worker === 'claude' && step.allowed_tools) checkToolRules(step.allowed_tools, ['steps', name]);
    if ('parallelism' in step && step.parallelism !== undefined && step.for_each === undefined) {
      invalid(['steps', name, 'parallelism'], 'is only allowed together with for_each');
    }
    if (step.worker === 'http') checkHttpStep(step, ['steps', name]);
    if (step.worker === 'llm' && step.base_url !== undefined && !isHttpUrl(step.base_url)) {
      invalid(['steps', name, 'base_url'], 'must be an absolute http:// or https:// URL');
    }
    const keyRule = step.worker === 'llm' && step.api_key !== undefined ? apiKeyRule(step.api_key) : undefined;
    if (keyRule) invalid(['steps', name, 'api_key'], keyRule);
  }

  const cycle = findCycle(def);
  if (cycle) {
    const [first, second] = cycle as [string, string];
    const index = def.steps[first]?.depends_on.indexOf(second) ?? 0;
    invalid(
      ['steps', first, 'depends_on', index],
      `forms a cycle: ${cycle.join(' -> ')} (each step depends on the next)`,
    );
  }

  const isUpstream = ancestry(def);
  for (const [name, step] of Object.entries(def.steps)) {
    if (step.worker === 'claude') checkWorkspace(def, name, step, isUpstream);
    checkStepTemplates(def, name, step, (target) => isUpstream(name, target));
  }
  checkCronTriggers(def);
}

/** Cron triggers: expression and zone, distinct ids, and literal inputs a run would accept (as startRun checks them). */
function checkCronTriggers(def: WorkflowDefinition): void {
  const seen = new Set<string>();
  for (const [i, trigger] of (def.triggers ?? []).entries()) {
    if (!('cron' in trigger)) continue;
    const problem = cronTriggerProblem(trigger);
    if (problem) invalid(['triggers', i, problem.key], problem.rule);
    const id = scheduleId(trigger);
    if (seen.has(id)) {
      invalid(
        ['triggers', i, trigger.name === undefined ? 'cron' : 'name'],
        `repeats schedule "${id}"; name each cron trigger distinctly`,
      );
    }
    seen.add(id);
    try {
      validateInputs(def, trigger.inputs ?? {});
    } catch (err) {
      if (!(err instanceof AppError) || err.field === undefined) throw err;
      // `inputs.topic is required` → triggers[0].inputs.topic is required
      invalid(['triggers', i, err.field], err.message.slice(err.field.length + 1));
    }
  }
}

/** Every template of a step with its path; `for_each` is first so its own rules are checked first. */
export function templatesOf(name: string, step: StepDefinition): Array<[Path, string]> {
  const out: Array<[Path, string]> = [];
  const at = (key: string): Path => ['steps', name, key];
  if ('for_each' in step && step.for_each !== undefined) out.push([at('for_each'), step.for_each]);
  const walk = (value: unknown, path: Path) => {
    if (typeof value === 'string') out.push([path, value]);
    else if (Array.isArray(value)) {
      for (const [i, v] of value.entries()) walk(v, [...path, i]);
    } else if (isRecord(value)) for (const [k, v] of Object.entries(value)) walk(v, [...path, k]);
  };
  switch (step.worker) {
    case 'claude':
      walk(step.prompt, at('prompt'));
      if (step.workspace && 'repo' in step.workspace) {
        out.push(
          [[...at('workspace'), 'repo'], step.workspace.repo],
          [[...at('workspace'), 'ref'], step.workspace.ref],
        );
      }
      if (step.commit) {
        out.push(
          [[...at('commit'), 'branch'], step.commit.branch],
          [[...at('commit'), 'message'], step.commit.message],
        );
      }
      break;
    case 'llm':
      walk(step.prompt, at('prompt'));
      walk(step.system, at('system'));
      walk(step.api_key, at('api_key'));
      break;
    case 'http':
      walk(step.url, at('url'));
      walk(step.headers, at('headers'));
      walk(step.body, at('body'));
      break;
    case 'transform':
      walk(step.template, at('template'));
      break;
    case 'approval':
      walk(step.message, at('message'));
      break;
  }
  return out;
}

function checkStepTemplates(
  def: WorkflowDefinition,
  name: string,
  step: StepDefinition,
  isUpstream: (target: string) => boolean,
): void {
  const hasForEach = 'for_each' in step && step.for_each !== undefined;
  for (const [path, tpl] of templatesOf(name, step)) {
    const isForEach = path[2] === 'for_each';
    try {
      checkTemplate(tpl);
    } catch (err) {
      const message = (err as Error).message;
      const detail = message.replace(/^template (syntax error: )?/, '');
      invalid(path, message.startsWith('template syntax error') ? `has a template syntax error: ${detail}` : detail);
    }
    if (isForEach && !isSingleExpression(tpl)) {
      invalid(path, 'must be exactly one {{ expression }} whose value is an array');
    }
    const secrets = secretRule(step, path, tpl);
    if (secrets) invalid(path, secrets);
    for (const ref of templateReferences(tpl)) {
      if (ref === 'inputs' || ref === 'secrets') continue;
      if (ref.startsWith('inputs.')) {
        const input = ref.slice('inputs.'.length);
        if (!Object.hasOwn(def.inputs ?? {}, input))
          invalid(path, `references ${ref}, which is not declared under inputs`);
        continue;
      }
      if (ref === 'run') continue; // run.id
      if (ref === 'item' || ref === 'item_index') {
        if (!hasForEach || isForEach) invalid(path, `references ${ref}, which exists only in steps with for_each`);
        continue;
      }
      if (ref === 'steps') invalid(path, 'must name steps literally (steps.<name>), not look them up dynamically');
      const target = ref.startsWith('steps.') ? ref.slice('steps.'.length) : ref;
      if (!Object.hasOwn(def.steps, target)) {
        const hint = closest(target, Object.keys(def.steps));
        invalid(path, `references unknown variable "${ref}"${hint ? ` (did you mean "${hint}"?)` : ''}`);
      }
      if (!isUpstream(target)) {
        invalid(path, `references step "${target}", which is not upstream of "${name}"; add it to depends_on`);
      }
    }
  }
}

const inputValidators = new WeakMap<WorkflowDefinition, ValidateFunction>();

/**
 * Checks a run's inputs against the definition and returns them with schema `default`s applied.
 * An input without a `default` is required; undeclared inputs are refused.
 */
export function validateInputs(def: WorkflowDefinition, inputs: unknown): Record<string, unknown> {
  let validate = inputValidators.get(def);
  if (!validate) {
    const properties = def.inputs ?? {};
    const required = Object.entries(properties)
      .filter(([, schema]) => !Object.hasOwn(schema, 'default'))
      .map(([name]) => name);
    validate = compileUserSchema(
      { type: 'object', properties, required, additionalProperties: false },
      { ...SCHEMA_OPTIONS, useDefaults: true },
    );
    inputValidators.set(def, validate);
  }
  const value = structuredClone(inputs ?? {});
  try {
    if (validate(value)) return value as Record<string, unknown>;
  } catch (err) {
    if (err instanceof MatchBudgetError)
      throw new AppError('validation', `inputs: ${err.message}`, { field: 'inputs' });
    throw err;
  }
  const error = validate.errors?.[0];
  const params = (error?.params ?? {}) as { missingProperty?: string; additionalProperty?: string };
  const segments: Array<string | number> = (error?.instancePath ?? '')
    .split('/')
    .filter(Boolean)
    .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
  let rule = error?.message ?? 'is invalid';
  if (params.missingProperty) [segments[0], rule] = [params.missingProperty, 'is required'];
  if (params.additionalProperty) [segments[0], rule] = [params.additionalProperty, 'is not a declared input'];
  const field = segments.length > 0 ? fieldPath(['inputs', ...segments]) : 'inputs';
  throw new AppError('validation', `${field} ${rule}`, { field });
}
