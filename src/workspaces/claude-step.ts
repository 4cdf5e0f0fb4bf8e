/**
 * A claude step with `workspace:` (and maybe `commit:`): the checkout is made (or an upstream step's
 * is taken), the agent runs in it as its cwd, then the server commits and pushes what the write rules
 * allow. The step's output is the agent's, with the commit added to `data`, so `{{ step.response }}`
 * stays the agent's text.
 */
import { AppError } from '../errors.ts';
import type { ClaudeInput } from '../runners/claude/run-claude.ts';
import { type OutputEnvelope, type RunContext, RunnerError } from '../runners/runner.ts';
import type { SecretStore } from '../secrets/secret-store.ts';
import { resolveSecretField } from '../secrets/secret-store.ts';
import type { CheckoutRecord, Checkouts } from './checkouts.ts';
import { type CommitResult, commitChanges } from './commit.ts';
import { checkRef } from './refs.ts';

/** `workspace` as rendered into a step's inputs (stored and shown: no credentials in it). */
export type RenderedWorkspace = { from: string } | { repo: string; ref: string; keep?: 'never' | 'on_failure' };
export interface RenderedCommit {
  branch: string;
  message: string;
  push: boolean;
}

export interface CheckoutStep {
  runId: string;
  step: string;
  itemIndex: number | null;
  workspace: RenderedWorkspace;
  commit?: RenderedCommit | undefined;
  /** The step definition's `workspace.credentials` (a `{{ secrets.NAME }}` reference). */
  credentials?: string | undefined;
}

/**
 * Runs `claude` (given the checkout dir as its cwd) inside the step's checkout, then commits.
 * Failures are AppErrors naming the field; none holds a credential.
 */
export function runInCheckout(
  s: CheckoutStep,
  ctx: RunContext,
  deps: { checkouts: Checkouts; secrets: SecretStore },
  claude: (cwd: string) => { input: ClaudeInput; run: (input: ClaudeInput) => Promise<OutputEnvelope> },
): Promise<OutputEnvelope> {
  // The run's end (a cancel, say) waits for the step to stop before its checkout is removed.
  return deps.checkouts.during(s.runId, () => stepInCheckout(s, ctx, deps, claude));
}

async function stepInCheckout(
  s: CheckoutStep,
  ctx: RunContext,
  deps: { checkouts: Checkouts; secrets: SecretStore },
  claude: (cwd: string) => { input: ClaudeInput; run: (input: ClaudeInput) => Promise<OutputEnvelope> },
): Promise<OutputEnvelope> {
  const { checkouts } = deps;
  const field = `steps.${s.step}.workspace`;
  const unit = s.itemIndex === null ? s.step : `${s.step}.${s.itemIndex}`;
  let record: CheckoutRecord;
  if ('from' in s.workspace) {
    record = checkouts.existing(s.runId, s.workspace.from, `${field}.from`);
  } else {
    const token = s.credentials ? resolveSecretField(s.credentials, deps.secrets, `${field}.credentials`) : undefined;
    record = await checkouts.create({
      runId: s.runId,
      unit,
      repo: s.workspace.repo,
      ref: s.workspace.ref,
      token,
      credentials: s.credentials,
      keep: s.workspace.keep,
      signal: ctx.signal,
      field,
    });
  }
  const branch = s.commit ? checkRef(s.commit.branch, `steps.${s.step}.commit.branch`) : undefined;
  // The commit goes to a branch of its own: never the one checked out, nor the repository's default.
  if (branch !== undefined && (branch === record.ref || branch === record.defaultBranch)) {
    throw new AppError(
      'validation',
      `steps.${s.step}.commit.branch ${JSON.stringify(branch)} is the branch the checkout was made from or the ` +
        `repository's default branch; name a new branch`,
      { field: `steps.${s.step}.commit.branch` },
    );
  }
  const { input, run } = claude(record.dir);
  const ran = await run(input);
  // Which commit the agent worked on, for the step view (the URL holds no credentials).
  const envelope = {
    ...ran,
    detail: { ...ran.detail, workspace: { repo: record.url, ref: record.ref, sha: record.sha } },
  };
  if (!s.commit || branch === undefined) return envelope;
  let result: CommitResult;
  try {
    result = await commitAndPush(s.commit, branch, record, input, ctx, deps, field);
  } catch (err) {
    // The agent's work was done and paid for: a failed commit or push still carries its usage.
    throw err instanceof AppError ? RunnerError.carrying(err, envelope) : err;
  }
  const data = isRecord(envelope.data) ? envelope.data : envelope.data === undefined ? {} : { result: envelope.data };
  return { ...envelope, data: { ...data, ...result } };
}

async function commitAndPush(
  commit: RenderedCommit,
  branch: string,
  record: CheckoutRecord,
  input: ClaudeInput,
  ctx: RunContext,
  deps: { checkouts: Checkouts; secrets: SecretStore },
  field: string,
): Promise<CommitResult> {
  const { checkouts } = deps;
  const token =
    commit.push && record.credentials
      ? resolveSecretField(record.credentials, deps.secrets, `${field}.credentials`)
      : undefined;
  const remote = commit.push
    ? {
        url: record.url,
        config: await checkouts.remote(checkouts.repoUrl(record.url, `${field}.repo`), token),
        secrets: token ? [token] : [],
      }
    : undefined;
  const result = await commitChanges(
    {
      dir: record.dir,
      mirror: record.mirror,
      base: record.sha,
      branch,
      message: commit.message,
      push: commit.push,
      policy: input.policy,
    },
    {
      home: checkouts.home,
      scratch: checkouts.scratch,
      localTimeoutMs: checkouts.localTimeoutMs,
      networkTimeoutMs: checkouts.networkTimeoutMs,
      signal: ctx.signal,
      ...(remote ? { remote } : {}),
    },
  );
  if (result.commit) checkouts.committed(record, result.commit);
  return result;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
