/**
 * The shape of a workflow file, as a zod schema. It is the single source of the published JSON Schema
 * (editors complete and check files with it) and of the shape check in definition.ts; the rules that
 * span several fields (dependencies, cycles, template references, pools) live in definition.ts.
 * Every object is strict: a misspelled key is an error, never silently ignored.
 */
import { z } from 'zod';

export const STEP_NAME = /^[a-zA-Z_][a-zA-Z0-9_-]*$/;
export const WORKFLOW_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
export const MAX_NAME_LENGTH = 64;
export const WORKERS = ['claude', 'llm', 'http', 'transform', 'approval'] as const;
export type WorkerName = (typeof WORKERS)[number];

/** One message for every way an integer field can be wrong, in the words of the rule (STYLE.md 4). */
function intRange(min: number, max: number, unit = '') {
  const error = `must be an integer between ${min} and ${max}${unit ? ` ${unit}` : ''}`;
  return z.int({ error }).min(min, { error }).max(max, { error });
}

function numberRange(min: number, max: number) {
  const error = `must be a number between ${min} and ${max}`;
  return z.number({ error }).min(min, { error }).max(max, { error });
}

const stepName = z.string().regex(STEP_NAME).max(MAX_NAME_LENGTH);
const jsonObject = z.record(z.string(), z.unknown());
const template = (description: string) => z.string().meta({ description });

export const backoffSchema = z.strictObject({
  initial: intRange(0, 86_400_000, '(ms)').optional().meta({ description: 'Delay cap before the 2nd attempt.' }),
  factor: numberRange(1, 10).optional().meta({ description: 'Growth of the delay cap per attempt.' }),
  max: intRange(0, 86_400_000, '(ms)').optional().meta({ description: 'Largest delay cap.' }),
});

export const retrySchema = z.strictObject({
  max_attempts: intRange(1, 20).optional().meta({ description: 'Attempts in all, the first included.' }),
  backoff: backoffSchema.optional().meta({ description: 'Full-jitter exponential backoff (ms).' }),
});

const base = {
  description: z.string().max(2000).optional(),
  depends_on: z
    .array(stepName)
    .default([])
    .meta({ description: 'Steps that must complete first; their outputs are in scope for templates.' }),
};

const fanOut = {
  for_each: template('One {{ expression }} whose value is an array; the step runs once per item (`item`).').optional(),
  parallelism: intRange(1, 100).optional().meta({ description: 'Items of for_each run at once.' }),
};

const work = {
  ...fanOut,
  timeout: intRange(1000, 86_400_000, '(ms)').optional().meta({ description: 'Wall-clock limit per attempt.' }),
  retry: retrySchema.optional(),
  pool: z.string().optional().meta({ description: 'Resource pool (top-level `pools`, or claude, llm, http).' }),
};

const outputSchema = jsonObject.optional().meta({ description: 'JSON Schema (2020-12) the output must match.' });

/** `workspace:` of a claude step: a checkout of a repository at a ref, or an upstream step's checkout. */
export const checkoutSchema = z.strictObject({
  repo: template(
    'https:// URL of a git repository; each {{ }} output is percent-encoded, so scheme and host must be literal.',
  ),
  ref: template('Branch, tag or commit sha to check out.'),
  credentials: z.string().optional().meta({ description: 'Token for fetch and push, as {{ secrets.NAME }}.' }),
  keep: z.enum(['never', 'on_failure']).optional().meta({ description: 'Keep the checkout when the run fails.' }),
});
export const sharedWorkspaceSchema = z.strictObject({
  from: stepName.meta({ description: 'An upstream step with a workspace: this step works in its checkout.' }),
});
export const workspaceSchema = z.union([checkoutSchema, sharedWorkspaceSchema]);
/** `commit:` of a claude step with a workspace: what the server commits (and pushes) once the agent is done. */
export const commitSchema = z.strictObject({
  branch: template('New branch to commit to, e.g. docs/update-{{ run.id }}.'),
  message: template('Commit message.'),
  push: z
    .boolean({ error: 'must be true or false' })
    .optional()
    .meta({ description: 'Push the branch (never forced).' }),
});

export const claudeStepSchema = z.strictObject({
  worker: z.literal('claude'),
  ...base,
  ...work,
  prompt: template('Task for Claude Code; without step references, dependency responses are prepended.'),
  allowed_tools: z.array(z.string()).optional().meta({ description: 'Tools and rules, e.g. Read, Edit(docs/**).' }),
  cwd: z.string().optional(),
  workspace: workspaceSchema.optional().meta({ description: 'A fresh checkout of a repository as the cwd.' }),
  commit: commitSchema.optional(),
  model: z.string().optional(),
  max_turns: intRange(1, 1000).optional(),
  max_budget_usd: z.number().positive({ error: 'must be a positive number' }).optional(),
  output_schema: outputSchema,
  allow_empty: z
    .boolean()
    .optional()
    .meta({ description: 'An empty response completes the step instead of failing it `empty_response`.' }),
});

export const llmStepSchema = z.strictObject({
  worker: z.literal('llm'),
  ...base,
  ...work,
  prompt: template('Prompt; without step references, dependency responses are prepended.'),
  system: template('System prompt.').optional(),
  provider: z.enum(['anthropic', 'openai-compatible']).optional(),
  base_url: z.string().optional().meta({ description: 'Server of an openai-compatible provider.' }),
  api_key: template(
    "This step's provider key, as {{ secrets.NAME }}; overrides the key from the environment.",
  ).optional(),
  model: z.string().optional(),
  temperature: numberRange(0, 2).optional(),
  max_tokens: intRange(1, 1_000_000).optional(),
  output_schema: outputSchema,
});

export const httpStepSchema = z.strictObject({
  worker: z.literal('http'),
  ...base,
  ...work,
  url: template('URL; each {{ }} output is percent-encoded, so scheme and host must be literal.'),
  method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']).optional(),
  headers: z.record(z.string(), z.string()).optional(),
  body: z
    .union([z.string(), jsonObject, z.array(z.unknown())])
    .optional()
    .meta({ description: 'JSON value (a whole-string {{ expr }} keeps its type) or a text template.' }),
  expect_status: z.array(intRange(100, 599)).min(1).optional().meta({ description: 'Accepted statuses (2xx).' }),
});

export const transformStepSchema = z.strictObject({
  worker: z.literal('transform'),
  ...base,
  ...fanOut,
  template: template('Rendered text; a single {{ expression }} also yields its value as `data`.'),
});

export const approvalStepSchema = z.strictObject({
  worker: z.literal('approval'),
  ...base,
  message: template('What the reviewer is asked to approve.'),
  timeout: intRange(1000, 86_400_000, '(ms)')
    .optional()
    .meta({ description: 'How long to wait for a decision (ms); then the step is rejected.' }),
  notify: z
    .string()
    .refine(isLiteralHttpUrl, {
      error: 'must be an http or https URL written out in full (no templates, no user:password@)',
    })
    .optional()
    .meta({ description: 'URL that gets a signed approval.pending webhook when the step starts waiting.' }),
});

/** A webhook target is the author's literal: no {{ }} lets upstream text choose where a notice goes. */
function isLiteralHttpUrl(value: string): boolean {
  if (value.includes('{{') || value.includes('{%') || value.length > 2048) return false;
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.username === '' && url.password === '';
  } catch {
    return false;
  }
}

export const stepSchemas = {
  claude: claudeStepSchema,
  llm: llmStepSchema,
  http: httpStepSchema,
  transform: transformStepSchema,
  approval: approvalStepSchema,
} as const;

export const stepSchema = z.discriminatedUnion('worker', [
  claudeStepSchema,
  llmStepSchema,
  httpStepSchema,
  transformStepSchema,
  approvalStepSchema,
]);

const triggerInputs = z
  .record(z.string().regex(STEP_NAME), z.unknown())
  .optional()
  .meta({ description: 'Input name → value or template; the run starts with these inputs.' });

/** `cron: "0 0 * * *"`: starts a run at each fire time (croner syntax, 5 or 6 fields). */
export const cronTriggerSchema = z.strictObject({
  cron: z.string().min(1).max(200).meta({ description: 'Cron expression (minute hour day month weekday).' }),
  name: z
    .string()
    .regex(STEP_NAME)
    .max(MAX_NAME_LENGTH)
    .optional()
    .meta({ description: 'Identifies the schedule (default: the cron expression).' }),
  timezone: z.string().max(100).optional().meta({ description: 'IANA time zone, e.g. Europe/Berlin (default UTC).' }),
  inputs: triggerInputs,
  misfire: z
    .enum(['skip', 'run_once'])
    .optional()
    .meta({ description: 'Fires missed while no server ran: skip them (default), or run once.' }),
  overlap: z
    .enum(['skip', 'allow'])
    .optional()
    .meta({ description: 'When the previous run of this schedule still runs: skip the fire (default) or allow.' }),
});

/** `webhook: {name: github-pr, …}`: `POST /v1/hooks/github-pr` starts a run. */
export const webhookTriggerSchema = z.strictObject({
  webhook: z.strictObject({
    name: z.string().regex(WORKFLOW_NAME).max(100).meta({ description: 'The hook is POST /v1/hooks/{name}.' }),
    provider: z
      .enum(['github', 'standard'])
      .meta({ description: 'Signature scheme: GitHub X-Hub-Signature-256 or Standard Webhooks.' }),
    secret: z.string().min(1).meta({ description: 'Signing secret, as {{ secrets.NAME }}.' }),
    events: z
      .array(z.string().min(1).max(200))
      .optional()
      .meta({ description: 'Accepted events, e.g. pull_request.opened (GitHub: event or event.action).' }),
    when: z
      .string()
      .max(10_000)
      .optional()
      .meta({ description: 'A {{ expression }} over body, event, delivery: the run starts only when it is true.' }),
    inputs: triggerInputs,
  }),
});

export const triggerSchema = z.union([cronTriggerSchema, webhookTriggerSchema]);

export const workflowSchema = z.strictObject({
  name: z.string().regex(WORKFLOW_NAME).max(100),
  description: z.string().max(10_000).optional(),
  inputs: z
    .record(z.string().regex(STEP_NAME), jsonObject)
    .optional()
    .meta({ description: 'Input name → JSON Schema; inputs without a `default` are required.' }),
  pools: z
    .record(z.string().regex(STEP_NAME), intRange(1, 10_000))
    .optional()
    .meta({ description: 'Pool name → capacity (steps of that pool running at once).' }),
  steps: z.record(stepName, stepSchema).meta({ description: 'Step name → step.' }),
  triggers: z
    .array(triggerSchema)
    .max(100)
    .optional()
    .meta({ description: 'What starts runs without a client: schedules (cron) and inbound webhooks.' }),
});

export type ClaudeStep = z.output<typeof claudeStepSchema>;
export type LlmStep = z.output<typeof llmStepSchema>;
export type HttpStep = z.output<typeof httpStepSchema>;
export type TransformStep = z.output<typeof transformStepSchema>;
export type ApprovalStep = z.output<typeof approvalStepSchema>;
export type CronTrigger = z.output<typeof cronTriggerSchema>;
export type WebhookTrigger = z.output<typeof webhookTriggerSchema>['webhook'];
export type Trigger = z.output<typeof triggerSchema>;
/** A validated step, discriminated by `worker`. `depends_on` is always present (default []). */
export type StepDefinition = z.output<typeof stepSchema>;
export type RetrySpec = z.output<typeof retrySchema>;
/** A validated workflow definition. */
export type WorkflowDefinition = z.output<typeof workflowSchema>;

type Path = ReadonlyArray<string | number>;

function issueAt(path: Path, rule: string): { path: Path; rule: string } {
  return { path, rule };
}

interface ZodIssueLike {
  code: string;
  path: PropertyKey[];
  message: string;
  keys?: string[];
  expected?: string;
  values?: unknown[];
}

/**
 * A zod issue in the words of the rule: the path it concerns (for an unknown key, the key itself) and a
 * phrase that follows the field name ("is required", "must be one of GET, POST").
 */
export function describeIssue(issue: ZodIssueLike | undefined, raw: unknown): { path: Path; rule: string } {
  if (!issue) return issueAt([], 'is invalid');
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  if (issue.code === 'unrecognized_keys' && issue.keys?.[0] !== undefined) {
    const key = issue.keys[0];
    const known = knownKeys(path, raw);
    const hint = closest(key, known);
    const worker = path.length === 2 && path[0] === 'steps' ? valueAt(raw, [...path, 'worker']) : undefined;
    let rule = 'is not a known key';
    if (key === 'pool' && (worker === 'transform' || worker === 'approval')) {
      rule += `: ${worker === 'approval' ? 'an' : 'a'} ${worker} step runs inside the orchestrator and takes no pool (pools are for claude, llm and http steps)`;
    } else if (hint) rule += ` (did you mean "${hint}"?)`;
    else if (known.length > 0) rule += ` (known keys: ${known.join(', ')})`;
    return issueAt([...path, key], rule);
  }
  const value = valueAt(raw, path);
  if (issue.code === 'invalid_type' && value === undefined) return issueAt(path, 'is required');
  if (issue.message.startsWith('must')) return issueAt(path, issue.message);
  if (issue.code === 'invalid_type') return issueAt(path, `must be ${issue.expected}, got ${describe(value)}`);
  if (issue.code === 'invalid_value' && issue.values) {
    return issueAt(path, `must be one of ${issue.values.map(String).join(', ')}`);
  }
  return issueAt(path, `is invalid: ${issue.message}`);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'a mapping' : `${typeof value} ${JSON.stringify(value)}`;
}

function valueAt(raw: unknown, path: Path): unknown {
  let node = raw;
  for (const seg of path) {
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, seg)) return undefined;
    node = (node as Record<string | number, unknown>)[seg];
  }
  return node;
}

function knownKeys(path: Path, raw: unknown): string[] {
  const [top, name, sub, subsub] = path;
  if (path.length === 0) return Object.keys(workflowSchema.shape);
  if (top !== 'steps' || typeof name !== 'string') return [];
  const worker = valueAt(raw, ['steps', name, 'worker']) as keyof typeof stepSchemas;
  if (path.length === 2) return Object.keys(stepSchemas[worker]?.shape ?? {});
  if (sub === 'retry' && path.length === 3) return Object.keys(retrySchema.shape);
  if (sub === 'commit' && path.length === 3) return Object.keys(commitSchema.shape);
  if (sub === 'workspace' && path.length === 3) return [...Object.keys(checkoutSchema.shape), 'from'];
  if (sub === 'retry' && subsub === 'backoff') return Object.keys(backoffSchema.shape);
  return [];
}

/** The known key nearest to a misspelling, if it is close enough to be a likely typo. */
export function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const candidate of candidates) {
    const d = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(
        (prev[j] ?? 0) + 1,
        (row[j - 1] ?? 0) + 1,
        (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}

/**
 * The JSON Schema (2020-12) of a workflow file, for editors (`# yaml-language-server: $schema=…`).
 * It checks shape only; parseWorkflow also checks dependencies, cycles, pools and templates.
 */
export function workflowJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(workflowSchema, { io: 'input', target: 'draft-2020-12' }),
    title: 'Switchyard workflow',
  };
}
