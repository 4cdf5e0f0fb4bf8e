/**
 * Signed webhooks (Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature): on terminal
 * task states, and for workflow approvals waiting for a person (approval.pending, which the workflow
 * engine stores in this same table with the transition that starts the wait). Each delivery is stored
 * before it is attempted and retried with exponential backoff, so a restart resumes pending
 * deliveries. The target passes the same SSRF guard as http steps: neither a client nor a workflow
 * can make the server POST into the operator's private network.
 *
 * Several senders (one per node) share the table: each due delivery is claimed with a lease
 * (Store.dueWebhookDeliveries), so one delivery attempt is made by one sender.
 */
import type { Logger } from 'pino';
import { Webhook } from 'standardwebhooks';
import { runHttp } from '../runners/http.ts';
import { parseAllowList } from '../runners/ssrf.ts';
import type { Store, TaskRecord } from '../store/store.ts';

const MAX_ATTEMPTS = 8;
const BASE_DELAY_MS = 1000;
const MAX_DELAY_MS = 3_600_000;
/**
 * How long a claimed delivery is this sender's: longer than one attempt takes (the request's 15 s
 * bound), so no other sender (another node, on PostgreSQL) takes it meanwhile; if this one dies
 * mid-attempt, the delivery is due again after it.
 */
const LEASE_MS = 60_000;

export interface WebhookSenderDeps {
  store: Store;
  secret: string | undefined;
  httpAllow: string | undefined;
  logger: Logger;
  /** Scrubs secrets from a failed delivery's stored error: it quotes the receiver's reply, which may hold anything. */
  redact: (text: string) => string;
  /** Milliseconds between scans for due deliveries. */
  pollMs?: number;
}

/** Every webhook's body: `{type, timestamp, data}`, the shape Standard Webhooks recommends. */
export function webhookBody(type: string, timestamp: string | null, data: unknown): string {
  return JSON.stringify({ type, timestamp, data });
}

export function webhookPayload(task: TaskRecord): string {
  return webhookBody(`task.${task.status}`, task.finished_at, {
    session_id: task.id,
    status: task.status,
    response: task.response,
    result: task.result,
    error: task.error,
  });
}

export class WebhookSender {
  readonly #deps: WebhookSenderDeps;
  readonly #signer: Webhook | undefined;
  readonly #allow: ReturnType<typeof parseAllowList>;
  #timer: NodeJS.Timeout | undefined;
  #busy: Promise<void> | undefined;
  #stopped = false;

  constructor(deps: WebhookSenderDeps) {
    this.#deps = deps;
    this.#signer = deps.secret ? new Webhook(deps.secret) : undefined;
    this.#allow = parseAllowList(deps.httpAllow ?? '');
  }

  async enqueue(task: TaskRecord): Promise<void> {
    if (!task.webhook_url || !this.#signer) return;
    await this.#deps.store.addWebhookDelivery(
      task.id,
      task.webhook_url,
      webhookPayload(task),
      new Date().toISOString(),
    );
    this.kick();
  }

  start(): void {
    // Deliveries are signed: rows queued while a secret was set wait, unsent, for a start that has one.
    if (!this.#signer) return;
    this.#timer = setInterval(() => this.kick(), this.#deps.pollMs ?? 1000);
    this.#timer.unref();
    this.kick();
  }

  /** Sends what is due now (a delivery was just stored); the timer covers retries and missed kicks. */
  kick(): void {
    if (this.#stopped || this.#busy || !this.#signer) return;
    this.#busy = this.#sendDue()
      .catch((err: unknown) => this.#deps.logger.error({ err }, 'webhook deliveries could not be read or recorded'))
      .finally(() => {
        this.#busy = undefined;
      });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#busy;
  }

  async #sendDue(): Promise<void> {
    const { store, logger } = this.#deps;
    const claimedAt = Date.now();
    const due = await store.dueWebhookDeliveries(
      new Date(claimedAt).toISOString(),
      20,
      new Date(claimedAt + LEASE_MS).toISOString(),
    );
    await Promise.all(
      due.map(async (d) => {
        const id = `msg_${d.task_id}_${d.id}`;
        const now = new Date();
        const signature = this.#signer!.sign(id, now, d.payload);
        const timestamp = String(Math.floor(now.getTime() / 1000));
        let error: string | null = null;
        try {
          await runHttp(
            {
              method: 'POST',
              url: d.url,
              headers: {
                'content-type': 'application/json',
                'webhook-id': id,
                'webhook-timestamp': timestamp,
                'webhook-signature': signature,
              },
              body: d.payload,
              timeout: 10_000,
            },
            { signal: AbortSignal.timeout(15_000), emit: () => {} },
            { allow: this.#allow },
          );
        } catch (err) {
          error = (err as Error).message;
        }
        const attempts = d.attempts + 1;
        const next =
          error === null || attempts >= MAX_ATTEMPTS
            ? null
            : new Date(Date.now() + Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** (attempts - 1))).toISOString();
        // The logger redacts what it writes; the store does not, so the stored copy is scrubbed here.
        // `task_id` is the delivery's subject: a task id, or a run id for an approval notice.
        if (error) logger.warn({ subject: d.task_id, attempts, error }, 'webhook delivery failed');
        await store.recordWebhookAttempt(d.id, error === null, next, error === null ? null : this.#deps.redact(error));
      }),
    );
  }
}
