/**
 * The task request, as the article's /execute and the v1 API accept it. Strict: an unknown field is
 * a 400, so a client that misspells `allowedTools` never silently runs under another boundary.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { z } from 'zod';
import { taskRequestSchema } from '../api/contract/tasks.ts';
import { type Config, overlapsInstall } from '../config.ts';
import { AppError } from '../errors.ts';
import { isWithin, overlaps, realPathOf } from '../paths.ts';
import { compilePolicy, formatRule, type ToolPolicy } from '../runners/claude/policy.ts';
import { compileUserSchema } from '../schema/ajv.ts';

export type TaskRequestBody = z.infer<ReturnType<typeof taskRequestSchema>>;

// zod compiles a schema on its first parse; building one per request cost a third of the CPU of a
// submission (bench/submit-throughput.ts), so the schema is built once per limit.
let schemaCache: { maxTimeout: number; schema: ReturnType<typeof taskRequestSchema> } | undefined;
function cachedSchema(maxTimeout: number) {
  if (schemaCache?.maxTimeout !== maxTimeout) schemaCache = { maxTimeout, schema: taskRequestSchema(maxTimeout) };
  return schemaCache.schema;
}

/** The request as stored on the task, with defaults applied and the workspace resolved. */
export interface NormalizedRequest {
  prompt: string;
  allowed_tools: string[];
  timeout: number;
  idle_timeout: number;
  cwd: string;
  model?: string;
  max_turns?: number;
  max_budget_usd?: number;
  system_prompt_append?: string;
  output_schema?: Record<string, unknown>;
}

export interface ParsedTaskRequest {
  request: NormalizedRequest;
  policy: ToolPolicy;
  metadata: Record<string, unknown> | null;
  retry_safe: boolean;
  webhook_url: string | null;
}

/**
 * Compiles the schema, not just checks its shape, so a bad `pattern` regex (or one RE2 cannot run in
 * linear time) is a 400 now, not a failed task later.
 */
function checkOutputSchema(schema: Record<string, unknown>): void {
  try {
    compileUserSchema(schema, { strict: false });
  } catch (err) {
    throw new AppError('validation', `output_schema is not a valid JSON Schema: ${(err as Error).message}`, {
      field: 'output_schema',
    });
  }
}

/**
 * Resolves `cwd` (symlinks and `..` included) and requires it to lie inside a workspace root, and not
 * in a place whose files run code or hold other tasks' data: a `.git/` or `.claude/` directory, the data
 * dir, Switchyard's own install. The gate judges control files on real paths too; refusing such a cwd
 * here keeps the task from starting at all.
 */
export function resolveWorkspace(
  cwd: string | undefined,
  config: Pick<Config, 'workspaceRoots' | 'dataDir'>,
  field = 'cwd',
): string {
  const realRoots = config.workspaceRoots.map((r) => fs.realpathSync(r));
  const shown = `${field} ${JSON.stringify(cwd ?? config.workspaceRoots[0])}`;
  let real: string;
  try {
    real = fs.realpathSync(path.resolve(realRoots[0]!, cwd ?? '.'));
  } catch {
    throw new AppError('validation', `${shown} does not exist`, { field });
  }
  if (!fs.statSync(real).isDirectory()) throw new AppError('validation', `${shown} is not a directory`, { field });
  if (!realRoots.some((root) => isWithin(root, real))) {
    throw new AppError('validation', `${shown} is outside the workspace roots`, { field });
  }
  const segments = real.split(path.sep);
  if (segments.includes('.git') || segments.includes('.claude')) {
    throw new AppError('validation', `${shown} is inside a .git or .claude directory, whose files run code`, {
      field,
    });
  }
  if (overlaps(realPathOf(config.dataDir), real) || overlapsInstall(real)) {
    throw new AppError('validation', `${shown} overlaps the server's data dir or its own install`, { field });
  }
  return real;
}

let capCache: { rules: string[]; policy: ToolPolicy } | undefined;
function operatorCap(config: Config): ToolPolicy | undefined {
  if (!config.toolCap) return undefined;
  if (capCache?.rules !== config.toolCap) {
    capCache = { rules: config.toolCap, policy: compilePolicy(config.toolCap, { field: 'SWITCHYARD_TOOL_CAP' }) };
  }
  return capCache.policy;
}

export function parseTaskRequest(body: unknown, config: Config): ParsedTaskRequest {
  const parsed = cachedSchema(config.maxTimeout).safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field =
      issue.path.length > 0
        ? issue.path.map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? String(k) : `.${String(k)}`)).join('')
        : 'body';
    const message =
      issue.code === 'unrecognized_keys'
        ? `unknown field ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`
        : `${field} ${issue.message}`;
    const unknownField = issue.code === 'unrecognized_keys' ? issue.keys[0]! : field;
    throw new AppError('validation', message, { field: unknownField });
  }
  const b = parsed.data;
  if (Buffer.byteLength(b.prompt) > config.maxPromptBytes) {
    throw new AppError('payload_too_large', `prompt is larger than ${config.maxPromptBytes} bytes`, {
      field: 'prompt',
    });
  }
  if (b.output_schema) checkOutputSchema(b.output_schema);
  if (b.metadata && JSON.stringify(b.metadata).length > 16_384) {
    throw new AppError('validation', 'metadata must be at most 16384 bytes of JSON', { field: 'metadata' });
  }
  if (b.webhook_url && !config.webhookSecret) {
    throw new AppError('validation', 'webhook_url needs the operator to set SWITCHYARD_WEBHOOK_SECRET', {
      field: 'webhook_url',
    });
  }
  const cap = operatorCap(config);
  const policy = compilePolicy(
    b.allowed_tools ?? [],
    cap ? { cap, field: 'allowed_tools' } : { field: 'allowed_tools' },
  );
  const request: NormalizedRequest = {
    prompt: b.prompt,
    allowed_tools: policy.rules.map(formatRule),
    timeout: b.timeout ?? config.defaultTimeout,
    idle_timeout: b.idle_timeout ?? config.idleTimeout,
    cwd: resolveWorkspace(b.cwd, config),
  };
  if (b.model !== undefined) request.model = b.model;
  if (b.max_turns !== undefined) request.max_turns = b.max_turns;
  if (b.max_budget_usd !== undefined) request.max_budget_usd = b.max_budget_usd;
  if (b.system_prompt_append !== undefined) request.system_prompt_append = b.system_prompt_append;
  if (b.output_schema !== undefined) request.output_schema = b.output_schema;
  return {
    request,
    policy,
    metadata: b.metadata ?? null,
    retry_safe: b.retry_safe ?? false,
    webhook_url: b.webhook_url ?? null,
  };
}
