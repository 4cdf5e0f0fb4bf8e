/**
 * One attempt of one step (or for_each item): its inputs rendered from the run's inputs and upstream
 * outputs with the escaping each destination needs (template.ts), then handed to the worker.
 * The render is a generator (sliced-render.ts): the orchestrator runs it for a few milliseconds in
 * the transition that starts the attempt, which is where a quick template finishes and its inputs
 * are stored; a slow one finishes in slices that yield to the event loop once the attempt has begun.
 */
import path from 'node:path';
import type { Config } from '../config.ts';
import type { ClaudeStep, StepDefinition } from '../domain/workflow-definition.ts';
import { AppError, type ErrorInfo, toErrorInfo } from '../errors.ts';
import { compilePolicy, type ToolPolicy } from '../runners/claude/policy.ts';
import type { ClaudeInput } from '../runners/claude/run-claude.ts';
import { type HttpStepInput, runHttp } from '../runners/http.ts';
import { type LlmDefaults, type LlmStepInput, runLlm } from '../runners/llm.ts';
import { type OutputEnvelope, type RunContext, RunnerError } from '../runners/runner.ts';
import type { AllowList } from '../runners/ssrf.ts';
import { secretForms } from '../secrets/redactor.ts';
import { resolveWorkspace } from '../tasks/request.ts';
import type { Checkouts } from '../workspaces/checkouts.ts';
import { type RenderedCommit, type RenderedWorkspace, runInCheckout } from '../workspaces/claude-step.ts';
import { buildPrompt } from './context.ts';
import { templatesOf } from './definition.ts';
import { nextTurn, type SlicedRender, takeTurnBytes } from './sliced-render.ts';
import { hideSecrets, secretRefs, withSecrets } from './step-secrets.ts';
import {
  isSingleExpression,
  jsonRender,
  jsonTextRender,
  renderText,
  type StepOutput,
  scopeReads,
  type TemplateOptions,
  templateScope,
  textRender,
  urlRender,
} from './template.ts';

export type ClaudeStepRunner = (input: ClaudeInput, ctx: RunContext) => Promise<OutputEnvelope>;

export interface StepRunnerDeps {
  config: Config;
  runClaude: ClaudeStepRunner;
  llmDefaults: LlmDefaults;
  httpAllow: AllowList;
  /** Repository checkouts for claude steps with `workspace:` (src/workspaces/). */
  checkouts?: Checkouts | undefined;
}

/** What a step's templates can see. `outputs` holds every upstream step's output; `direct` only its dependencies'. */
export interface RenderScope {
  inputs: Record<string, unknown>;
  outputs: Record<string, StepOutput>;
  direct: Record<string, StepOutput>;
  item?: unknown;
  itemIndex?: number;
  runId?: string;
}

/** Header names whose values are credentials: never stored with the rendered inputs. */
const SENSITIVE_HEADER = /authorization|cookie|token|secret|key|password|session/i;

export interface RenderedStep {
  /** What the worker receives. */
  input: Record<string, unknown>;
  /** What is stored and shown (DLQ, step view): the same with credentials replaced. */
  shown: Record<string, unknown>;
}

/** Renders a step's inputs (a generator: run it with SlicedRender); a template error is an AppError 'validation' naming the field. */
export function* renderStep(
  name: string,
  step: StepDefinition,
  s: RenderScope,
  config: Config,
): Generator<unknown, RenderedStep> {
  const scope = templateScope({
    inputs: s.inputs,
    outputs: s.outputs,
    ...(s.itemIndex === undefined ? {} : { item: s.item, itemIndex: s.itemIndex }),
    ...(s.runId === undefined ? {} : { runId: s.runId }),
  });
  const at = (field: string): TemplateOptions => ({ field: `steps.${name}.${field}` });
  // Only the fields that may hold secrets see them, and only those the step names (step-secrets.ts).
  const secretNames = stepSecrets(name, step);
  const secretScope = (field: string) =>
    secretNames.length === 0 ? scope : withSecrets(scope, secretNames, config.secrets, `steps.${name}.${field}`);
  switch (step.worker) {
    case 'claude': {
      const prompt = buildPrompt(step, yield* textRender(step.prompt, scope, at('prompt')), s.direct);
      const input: Record<string, unknown> = {
        prompt,
        allowed_tools: step.allowed_tools ?? [],
        timeout: step.timeout ?? config.defaultTimeout,
      };
      for (const key of ['cwd', 'model', 'max_turns', 'max_budget_usd', 'output_schema', 'allow_empty'] as const) {
        if (step[key] !== undefined) input[key] = step[key];
      }
      // A checkout (src/workspaces/): the URL rendered as a URL, so a value fills only its path.
      // `credentials` is not rendered here: it is resolved when the step runs and never stored.
      const ws = step.workspace;
      if (ws && 'from' in ws) input.workspace = { from: ws.from };
      else if (ws) {
        input.workspace = {
          repo: yield* urlRender(ws.repo, scope, at('workspace.repo')),
          ref: yield* textRender(ws.ref, scope, at('workspace.ref')),
          ...(ws.keep ? { keep: ws.keep } : {}),
        };
      }
      if (step.commit) {
        input.commit = {
          branch: yield* textRender(step.commit.branch, scope, at('commit.branch')),
          message: yield* textRender(step.commit.message, scope, at('commit.message')),
          push: step.commit.push ?? false,
        };
      }
      return { input, shown: input };
    }
    case 'llm': {
      const system = step.system === undefined ? undefined : yield* textRender(step.system, scope, at('system'));
      const prompt = buildPrompt(step, yield* textRender(step.prompt, scope, at('prompt')), s.direct);
      const input: Record<string, unknown> = { prompt };
      if (system !== undefined) input.system = system;
      if (step.api_key !== undefined) {
        input.api_key = yield* textRender(step.api_key, secretScope('api_key'), at('api_key'));
      }
      for (const key of [
        'provider',
        'base_url',
        'model',
        'temperature',
        'max_tokens',
        'output_schema',
        'timeout',
      ] as const) {
        if (step[key] !== undefined) input[key] = step[key];
      }
      const { api_key, ...shown } = input;
      return { input, shown: api_key === undefined ? input : { ...shown, api_key: '[redacted]' } };
    }
    case 'http': {
      const input: Record<string, unknown> = { url: yield* urlRender(step.url, secretScope('url'), at('url')) };
      if (step.method !== undefined) input.method = step.method;
      if (step.headers !== undefined) {
        input.headers = yield* jsonRender(step.headers, secretScope('headers'), at('headers'));
      }
      if (step.body !== undefined) input.body = yield* renderBody(step.body, secretScope('body'), at('body'));
      // Where a secret is sent, a redirect must not carry it to another origin (the body survives a 307).
      if (secretNames.length > 0) input.keep_origin = true;
      if (step.expect_status !== undefined) input.expect_status = step.expect_status;
      if (step.timeout !== undefined) input.timeout = step.timeout;
      const headers = input.headers as Record<string, string> | undefined;
      const shown = headers
        ? {
            ...input,
            headers: Object.fromEntries(
              Object.entries(headers).map(([k, v]) => [k, SENSITIVE_HEADER.test(k) ? '[redacted]' : v]),
            ),
          }
        : input;
      return { input, shown: hideSecrets(shown, secretNames, config.secrets) };
    }
    case 'transform': {
      // A single {{ expression }} keeps its value (object, list …) as `data`; anything else is text.
      const output: StepOutput = isSingleExpression(step.template)
        ? dataOutput(yield* jsonRender(step.template, scope, at('template')))
        : { response: yield* textRender(step.template, scope, at('template')) };
      return { input: { output }, shown: {} };
    }
    case 'approval': {
      const input = { message: yield* textRender(step.message, scope, at('message')) };
      return { input, shown: input };
    }
  }
}

/**
 * An approval step's message, rendered at once under the synchronous render limit (template.ts):
 * one short message, no worker, no slot to hold.
 */
export function renderApproval(name: string, step: StepDefinition, s: RenderScope): { message: string } {
  if (step.worker !== 'approval') throw new AppError('internal', `step "${name}" is not an approval step`);
  const scope = templateScope({
    inputs: s.inputs,
    outputs: s.outputs,
    ...(s.runId === undefined ? {} : { runId: s.runId }),
  });
  return { message: renderText(step.message, scope, { field: `steps.${name}.message` }) };
}

const readsCache = new WeakMap<StepDefinition, ReadonlySet<string> | null>();
const secretsCache = new WeakMap<StepDefinition, readonly string[]>();

/** The secrets a step renders (into the fields that may hold them: step-secrets.ts). */
function stepSecrets(name: string, step: StepDefinition): readonly string[] {
  let names = secretsCache.get(step);
  if (names === undefined) {
    names = [...new Set(secretRefs(step, templatesOf(name, step)).map((ref) => ref.name))];
    secretsCache.set(step, names);
  }
  return names;
}

/**
 * The names any template of the step can read (scopeReads), or null for "any upstream step": the
 * orchestrator puts only these outputs in the step's scope.
 */
export function stepReads(name: string, step: StepDefinition): ReadonlySet<string> | null {
  let reads = readsCache.get(step);
  if (reads === undefined) {
    const names = new Set<string>();
    reads = names;
    for (const [, tpl] of templatesOf(name, step)) {
      const some = scopeReads(tpl);
      if (some === null) {
        reads = null;
        break;
      }
      for (const n of some) names.add(n);
    }
    readsCache.set(step, reads);
  }
  return reads;
}

function dataOutput(value: unknown): StepOutput {
  return { response: typeof value === 'string' ? value : JSON.stringify(value ?? null), data: value };
}

/**
 * A string body that looks like JSON text is rendered with JSON-string escaping, so a value can never
 * close the quotes it sits in; a whole-string `{{ expr }}` or an object/list body is built as data.
 */
function* renderBody(body: unknown, scope: object, options: TemplateOptions): Generator<unknown, unknown> {
  if (typeof body !== 'string' || isSingleExpression(body)) return yield* jsonRender(body, scope, options);
  return /^\s*[{[]/.test(body) ? yield* jsonTextRender(body, scope, options) : yield* textRender(body, scope, options);
}

export interface AttemptMeta {
  runId: string;
  step: string;
  itemIndex: number | null;
  attempt: number;
}

export interface AttemptOutcome {
  output?: OutputEnvelope;
  error?: ErrorInfo;
  /** Usage a failed attempt still reports (its RunnerError carries the envelope so far). */
  usage?: OutputEnvelope['usage'];
}

/**
 * One attempt under the step's `timeout`. `ctx.signal` is the orchestrator's (cancel, shutdown); an
 * AppError abort reason — the timeout's or the cancel's — is the attempt's error whatever the worker
 * made of the abort, so a claude step cut off by our timer fails `timeout`, not `cancelled`.
 */
export async function attemptStep(
  step: StepDefinition,
  input: Record<string, unknown>,
  ctx: RunContext,
  deps: StepRunnerDeps,
  meta: AttemptMeta,
): Promise<AttemptOutcome> {
  const timeout = 'timeout' in step ? step.timeout : undefined;
  const timer = new AbortController();
  const timeoutId =
    timeout === undefined
      ? undefined
      : setTimeout(
          () => timer.abort(new AppError('timeout', `step "${meta.step}" exceeded its timeout of ${timeout} ms`)),
          timeout,
        );
  const signal = AbortSignal.any([ctx.signal, timer.signal]);
  try {
    if (signal.aborted) throw signal.reason;
    return { output: await runStep(step, input, { signal, emit: ctx.emit }, deps, meta) };
  } catch (err) {
    const reason: unknown = signal.reason;
    const error = toErrorInfo(signal.aborted && reason instanceof AppError ? reason : err);
    const usage = err instanceof RunnerError ? err.envelope.usage : undefined;
    return usage ? { error, usage } : { error };
  } finally {
    clearTimeout(timeoutId);
  }
}

/**
 * One whole attempt: its render finished (in slices, if the transition that began the attempt did not
 * finish it; `ctx.signal` stops it), the inputs shown through `rendered`, then the worker run under
 * the step's timeout (attemptStep). Failures, render errors included, are the outcome's error.
 */
export async function renderAndAttempt(
  step: StepDefinition,
  render: SlicedRender<RenderedStep>,
  ctx: RunContext,
  deps: StepRunnerDeps,
  meta: AttemptMeta,
  rendered: (shown: Record<string, unknown>) => void,
): Promise<AttemptOutcome> {
  let inputs: RenderedStep;
  try {
    inputs = render.done ? render.value : await render.finish(ctx.signal);
  } catch (err) {
    const reason: unknown = ctx.signal.reason;
    return { error: toErrorInfo(ctx.signal.aborted && reason instanceof AppError ? reason : err) };
  }
  rendered(inputs.shown);
  if (step.worker === 'transform') {
    const output = inputs.input.output as OutputEnvelope;
    while (!takeTurnBytes(output.response.length)) await nextTurn();
    return { output };
  }
  return attemptStep(step, inputs.input, ctx, deps, meta);
}

/** Runs one attempt with the worker of the step; failures are thrown as AppErrors. */
export async function runStep(
  step: StepDefinition,
  input: Record<string, unknown>,
  ctx: RunContext,
  deps: StepRunnerDeps,
  meta: AttemptMeta,
): Promise<OutputEnvelope> {
  switch (step.worker) {
    case 'http':
      return runHttp(input as unknown as HttpStepInput, ctx, {
        allow: deps.httpAllow,
        secrets: secretValues(deps.config),
      });
    case 'llm':
      return runLlm(input as unknown as LlmStepInput, ctx, deps.llmDefaults, { allow: deps.httpAllow });
    case 'claude':
      if (step.workspace) return claudeInCheckout(step, input, ctx, deps, meta);
      return deps.runClaude(claudeInput(input, deps.config, meta), ctx);
    case 'transform':
      return input.output as OutputEnvelope;
    case 'approval':
      throw new AppError('internal', 'approval steps are decided, not run');
  }
}

const formsCache = new WeakMap<Config, string[]>();

/** Every workflow secret in every form it is sent in, for the http worker's error excerpts. */
function secretValues(config: Config): string[] {
  let forms = formsCache.get(config);
  if (!forms) {
    forms = config.secrets.values().flatMap(secretForms);
    formsCache.set(config, forms);
  }
  return forms;
}

let capCache: { rules: string[]; policy: ToolPolicy } | undefined;

/** The operator's SWITCHYARD_TOOL_CAP, compiled once. */
export function toolCap(config: Config): ToolPolicy | undefined {
  if (!config.toolCap) return undefined;
  if (capCache?.rules !== config.toolCap) {
    capCache = { rules: config.toolCap, policy: compilePolicy(config.toolCap, { field: 'SWITCHYARD_TOOL_CAP' }) };
  }
  return capCache.policy;
}

/** The step's tool policy under the operator's cap; throws a validation error naming the field. */
export function stepPolicy(allowedTools: unknown, config: Config, field: string): ToolPolicy {
  const cap = toolCap(config);
  return compilePolicy(allowedTools ?? [], cap ? { cap, field } : { field });
}

/** A claude step in a repository checkout: the checkout (made by the server) is its cwd. */
function claudeInCheckout(
  step: ClaudeStep,
  input: Record<string, unknown>,
  ctx: RunContext,
  deps: StepRunnerDeps,
  meta: AttemptMeta,
): Promise<OutputEnvelope> {
  if (!deps.checkouts) throw new AppError('internal', 'repository checkouts are not set up on this server');
  const credentials = step.workspace && 'credentials' in step.workspace ? step.workspace.credentials : undefined;
  return runInCheckout(
    {
      runId: meta.runId,
      step: meta.step,
      itemIndex: meta.itemIndex,
      workspace: input.workspace as RenderedWorkspace,
      commit: input.commit as RenderedCommit | undefined,
      credentials,
    },
    ctx,
    { checkouts: deps.checkouts, secrets: deps.config.secrets },
    (cwd) => ({ input: claudeInput(input, deps.config, meta, cwd), run: (i) => deps.runClaude(i, ctx) }),
  );
}

/** `checkout`: a directory the server made for the step (never a user's `cwd`), taken as it is. */
function claudeInput(
  input: Record<string, unknown>,
  config: Config,
  meta: AttemptMeta,
  checkout?: string,
): ClaudeInput {
  const field = `steps.${meta.step}.allowed_tools`;
  const out: ClaudeInput = {
    prompt: input.prompt as string,
    policy: stepPolicy(input.allowed_tools, config, field),
    cwd: checkout ?? resolveWorkspace(input.cwd as string | undefined, config, `steps.${meta.step}.cwd`),
    timeout: input.timeout as number,
    idle_timeout: config.idleTimeout,
    // A fresh CLAUDE_CONFIG_DIR per attempt: nothing leaks between steps, runs or attempts.
    configDir: path.join(
      config.dataDir,
      'claude',
      `run-${meta.runId}`,
      `${meta.step}${meta.itemIndex === null ? '' : `-${meta.itemIndex}`}-${meta.attempt}`,
    ),
  };
  if (input.model !== undefined) out.model = input.model as string;
  if (input.max_turns !== undefined) out.max_turns = input.max_turns as number;
  if (input.max_budget_usd !== undefined) out.max_budget_usd = input.max_budget_usd as number;
  if (input.output_schema !== undefined) out.output_schema = input.output_schema as Record<string, unknown>;
  if (input.allow_empty === true) out.allow_empty = true;
  return out;
}
