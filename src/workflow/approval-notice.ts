/**
 * A pending review announces itself. When an approval step starts waiting, the run's event stream
 * gets an `approval_pending` event, and a step with `notify: <url>` also gets a signed webhook
 * (`approval.pending`) carrying the same data: which run and step, the rendered message, the deadline
 * and the API paths that decide it. The webhook is queued in the transition that starts the wait
 * (Transition.webhooks), so it is as durable as the wait itself, and sent by the WebhookSender
 * (tasks/webhooks.ts): signed, retried, SSRF-guarded, never on the engine's path.
 *
 * The URL is a literal of the workflow's author, checked at registration: no template can point it
 * elsewhere, since the message it carries is written from upstream outputs (attacker-written text).
 */
import net from 'node:net';
import type { Config } from '../config.ts';
import type { ApprovalStep, WorkflowDefinition } from '../domain/workflow-definition.ts';
import { AppError } from '../errors.ts';
import { parseAllowList, refusalReason } from '../runners/ssrf.ts';
import type { StepRecord } from '../store/workflow-store.ts';
import { webhookBody } from '../tasks/webhooks.ts';
import type { ActiveRun, Transition } from './run-state.ts';

/** The longest message a notice carries; the whole message stays in the step's inputs. */
export const NOTICE_MESSAGE_CHARS = 65_536;

/** The comment (and rejection) of an approval nobody decided before its `timeout`. */
export const DEADLINE_COMMENT = 'no decision before the deadline';

export interface ApprovalNotice {
  run_id: string;
  workflow: string;
  step: string;
  message: string;
  /** Set when the message was cut to NOTICE_MESSAGE_CHARS. */
  message_truncated?: true;
  /** When the step is rejected if nobody decides (ISO 8601), or null: it waits until someone does. */
  deadline: string | null;
  /** POST here (body `{"comment": "…"}`, optional) with an API key to approve … */
  approve_path: string;
  /** … or to reject. */
  reject_path: string;
}

/** When an approval step that started waiting at `startedAt` is rejected for want of a decision. */
export function approvalDeadline(startedAt: string | null, step: ApprovalStep): string | null {
  if (step.timeout === undefined || startedAt === null) return null;
  return new Date(Date.parse(startedAt) + step.timeout).toISOString();
}

/** The notice of a unit now awaiting approval; `redact` sees the whole message before it is cut. */
export function approvalNotice(
  run: ActiveRun,
  unit: StepRecord,
  step: ApprovalStep,
  redact: (text: string) => string,
): ApprovalNotice {
  const rendered = redact(typeof unit.inputs?.message === 'string' ? unit.inputs.message : '');
  const base = `/v1/runs/${encodeURIComponent(run.record.id)}/steps/${encodeURIComponent(unit.name)}`;
  const notice: ApprovalNotice = {
    run_id: run.record.id,
    workflow: run.record.workflow,
    step: unit.name,
    message: rendered.slice(0, NOTICE_MESSAGE_CHARS),
    deadline: approvalDeadline(unit.started_at, step),
    approve_path: `${base}/approve`,
    reject_path: `${base}/reject`,
  };
  if (rendered.length > NOTICE_MESSAGE_CHARS) notice.message_truncated = true;
  return notice;
}

export interface AnnounceOptions {
  /** SWITCHYARD_WEBHOOK_SECRET is set: webhooks can be signed. */
  signing: boolean;
  /** Scrubs secrets out of the message published and sent. */
  redact: (text: string) => string;
  /** Tells the WebhookSender a delivery is due, once the transition is durable. */
  kick?: (() => void) | undefined;
  warn: (obj: object, msg: string) => void;
}

/** Adds the step's `approval_pending` event, and its webhook when it has `notify`, to the transition. */
export function announceApproval(
  tx: Transition,
  run: ActiveRun,
  unit: StepRecord,
  step: ApprovalStep,
  options: AnnounceOptions,
): void {
  const notice = approvalNotice(run, unit, step, options.redact);
  tx.event(run.record.id, 'approval_pending', notice);
  if (step.notify === undefined) return;
  if (!options.signing) {
    // Registration refuses `notify` without a secret; this is a server restarted without one since.
    options.warn(
      { run: run.record.id, step: unit.name },
      'approval notify skipped: SWITCHYARD_WEBHOOK_SECRET is not set, so the webhook cannot be signed',
    );
    return;
  }
  tx.webhooks.push({
    run_id: run.record.id,
    url: step.notify,
    payload: webhookBody('approval.pending', tx.at, notice),
  });
  const kick = options.kick;
  if (kick) tx.after.push(kick);
}

/**
 * Registration checks of `notify` that need the server's config: a secret to sign with, and no
 * literal address the SSRF guard would refuse anyway (a host name is checked when it is resolved, at
 * each delivery).
 */
export function checkNotify(def: WorkflowDefinition, config: Config, where = ''): void {
  for (const [name, step] of Object.entries(def.steps)) {
    if (step.worker !== 'approval' || step.notify === undefined) continue;
    const field = `steps.${name}.notify`;
    if (!config.webhookSecret) {
      throw new AppError('validation', `${where}${field} needs the operator to set SWITCHYARD_WEBHOOK_SECRET`, {
        field,
      });
    }
    const host = new URL(step.notify).hostname.replace(/^\[|\]$/g, '');
    const refused = net.isIP(host) ? refusalReason(host, parseAllowList(config.httpAllow)) : undefined;
    if (refused) {
      throw new AppError(
        'validation',
        `${where}${field}: ${host} is ${refused}; the operator can admit it in SWITCHYARD_HTTP_ALLOW`,
        { field },
      );
    }
  }
}
