/**
 * Inbound webhooks: `POST /v1/hooks/{name}` starts a run of the workflow whose webhook trigger has that
 * name. The order is the point:
 *   1. the signature is checked over the raw bytes (401, nothing else happens, the body is not logged);
 *   2. a delivery id already recorded is answered with its run (a sender's retry starts nothing);
 *   3. only then is the body parsed (400 if it is not JSON), the event filtered (200, nothing started),
 *      the trigger's input templates rendered against it and the inputs validated (400 naming the input);
 *   4. the run and the delivery record are written in one transaction (SqliteWorkflowStore
 *      createRunForDelivery), so a crash can neither lose a delivery nor start it twice.
 *
 * The body is attacker-written even when signed (a pull request title is anyone's to choose): it is only
 * ever data in the template scope, never rendered as a template itself, and renders are bounded.
 *
 * @example
 * const hooks = new WebhookTriggers({ workflows, deliveries: workflowStore, secrets: config.secrets, logger });
 * const verified = await hooks.verify('github-pr', rawBody, (h) => req.headers.get(h) ?? undefined);
 * const outcome = await hooks.start(verified, JSON.parse(rawBody.toString()));
 */

import type { WebhookTrigger } from '../domain/workflow-definition.ts';
import { AppError } from '../errors.ts';
import type { SecretStore } from '../secrets/secret-store.ts';
import type { WorkflowStore } from '../store/workflow-store.ts';
import type { Logger } from '../workflow/engine-deps.ts';
import { renderJson } from '../workflow/template.ts';
import type { WorkflowApi } from '../workflow/workflow-api.ts';
import { type HookEntry, hookField, hookSecret, standardVerifier, webhookTriggersOf } from './webhook-definition.ts';
import { type HeaderGetter, verifyGithub, verifyStandard } from './webhook-signature.ts';

export interface WebhookTriggersDeps {
  workflows: WorkflowApi;
  deliveries: Pick<WorkflowStore, 'getWebhookDelivery'>;
  secrets: SecretStore;
  logger: Logger;
}

/** A hook as GET /v1/hooks shows it: never its secret, nor the secret's name. */
export interface HookView {
  name: string;
  workflow: string;
  provider: WebhookTrigger['provider'];
  /** null: every event starts a run. */
  events: string[] | null;
  path: string;
}

/** A delivery whose signature checked out. */
export interface VerifiedHookDelivery {
  hook: string;
  workflow: string;
  entry: HookEntry;
  id: string;
  /** GitHub's X-GitHub-Event (the action comes from the body). */
  githubEvent: string | undefined;
}

export type HookOutcome =
  | {
      status: 202;
      body: { started: true; run_id: string; workflow: string; hook: string; delivery: string; event: string | null };
    }
  | {
      status: 200;
      body: { started: false; reason: string; run_id?: string; duplicate?: true; hook: string; delivery: string };
    };

const MAX_EVENT_CHARS = 200;
const GITHUB_EVENT = /^[a-z0-9_]{1,100}$/;

/** `pull_request` matches `pull_request.opened`; `pull_request.opened` matches only itself. */
export function eventMatches(event: string, entry: string): boolean {
  return event === entry || event.startsWith(`${entry}.`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export class WebhookTriggers {
  readonly #deps: WebhookTriggersDeps;

  constructor(deps: WebhookTriggersDeps) {
    this.#deps = deps;
  }

  async list(): Promise<HookView[]> {
    const hooks: HookView[] = [];
    for (const w of await this.#deps.workflows.listWorkflows()) {
      for (const { trigger } of webhookTriggersOf(w.definition)) {
        hooks.push({
          name: trigger.name,
          workflow: w.name,
          provider: trigger.provider,
          events: trigger.events ?? null,
          path: `/v1/hooks/${trigger.name}`,
        });
      }
    }
    return hooks.sort((a, b) => a.name.localeCompare(b.name));
  }

  async #find(name: string): Promise<{ workflow: string; entry: HookEntry }> {
    const found: Array<{ workflow: string; entry: HookEntry }> = [];
    for (const w of await this.#deps.workflows.listWorkflows()) {
      for (const entry of webhookTriggersOf(w.definition)) {
        if (entry.trigger.name === name) found.push({ workflow: w.name, entry });
      }
    }
    if (found.length === 0) throw new AppError('not_found', `no hook named ${JSON.stringify(name)}`, { field: 'name' });
    if (found.length > 1) {
      // Registration refuses this; only two registrations racing for a new name can get here.
      this.#deps.logger.error(
        { hook: name, workflows: found.map((f) => f.workflow) },
        'two workflows claim one hook name: deliveries are refused until one of them is changed',
      );
      throw new AppError('conflict', `hook ${JSON.stringify(name)} is claimed by more than one workflow`);
    }
    return found[0]!;
  }

  /** Step 1 (see the file comment): throws `unauthorized` (401) unless the signature is good. */
  async verify(name: string, raw: Buffer, header: HeaderGetter): Promise<VerifiedHookDelivery> {
    const { workflow, entry } = await this.#find(name);
    let verifier: (raw: Buffer, header: HeaderGetter) => { id: string };
    try {
      const secret = hookSecret(entry, this.#deps.secrets);
      if (entry.trigger.provider === 'github') verifier = (r, h) => verifyGithub(r, h, secret);
      else {
        const standard = standardVerifier(secret, hookField(entry.index, 'secret'));
        verifier = (r, h) => verifyStandard(r, h, standard);
      }
    } catch (err) {
      // Registration checked the secret; it has since left the environment or changed. The operator must
      // hear of it; the sender learns only that the server cannot take the delivery.
      this.#deps.logger.error({ err, hook: name, workflow }, 'webhook secret is unusable: deliveries are refused');
      throw new AppError(
        'internal',
        `hook ${JSON.stringify(name)} cannot verify deliveries: its secret is not usable on this server`,
      );
    }
    try {
      const { id } = verifier(raw, header);
      return { hook: name, workflow, entry, id, githubEvent: header('x-github-event') };
    } catch (err) {
      if (err instanceof AppError && err.kind === 'unauthorized') {
        this.#deps.logger.warn({ hook: name, reason: err.message, bytes: raw.length }, 'webhook delivery refused');
      }
      throw err;
    }
  }

  /** Step 2: the run an earlier delivery with this id started, if any. */
  async duplicate(v: VerifiedHookDelivery): Promise<HookOutcome | undefined> {
    const earlier = await this.#deps.deliveries.getWebhookDelivery(v.hook, v.id);
    return earlier ? this.#duplicateOutcome(v, earlier.run_id) : undefined;
  }

  #duplicateOutcome(v: VerifiedHookDelivery, runId: string): HookOutcome {
    return {
      status: 200,
      body: {
        started: false,
        duplicate: true,
        run_id: runId,
        reason: `delivery ${v.id} was already received; it started run ${runId}`,
        hook: v.hook,
        delivery: v.id,
      },
    };
  }

  /** Steps 3 and 4, for a parsed body. */
  async start(v: VerifiedHookDelivery, body: unknown): Promise<HookOutcome> {
    const { trigger } = v.entry;
    const skip = (reason: string): HookOutcome => ({
      status: 200,
      body: { started: false, reason, hook: v.hook, delivery: v.id },
    });
    let event: string | null;
    if (trigger.provider === 'github') {
      const type = v.githubEvent;
      if (type === undefined || !GITHUB_EVENT.test(type)) {
        throw new AppError('validation', 'X-GitHub-Event must be a GitHub event name such as pull_request', {
          field: 'X-GitHub-Event',
        });
      }
      if (type === 'ping') return skip('ping: the hook is set up; ping events start no run');
      const action = isRecord(body) ? body.action : undefined;
      event = typeof action === 'string' ? `${type}.${action}` : type;
    } else {
      const type = isRecord(body) ? body.type : undefined;
      event = typeof type === 'string' ? type : null;
    }
    if (event !== null && event.length > MAX_EVENT_CHARS) {
      throw new AppError('validation', `the event name is longer than ${MAX_EVENT_CHARS} characters`, {
        field: 'event',
      });
    }
    const filter = trigger.events;
    if (filter && !(event !== null && filter.some((entry) => eventMatches(event, entry)))) {
      const name = event === null ? 'without a type' : event;
      return skip(`event ${name} is not in the hook's events: ${filter.join(', ')}`);
    }
    // The body is data in the scope: renderJson renders the trigger's templates, never a value.
    const scope = { body, event, delivery: v.id };
    if (trigger.when !== undefined && renderJson(trigger.when, scope, { field: 'when' }) !== true) {
      return skip(`when ${trigger.when.trim()} is not true for this delivery: nothing to do`);
    }
    const inputs = renderJson(trigger.inputs ?? {}, scope, { field: 'inputs' });
    const { run, created } = await this.#deps.workflows.startRun(v.workflow, inputs, {
      delivery: { hook: v.hook, id: v.id, event },
    });
    if (!created) return this.#duplicateOutcome(v, run.id);
    return {
      status: 202,
      body: { started: true, run_id: run.id, workflow: v.workflow, hook: v.hook, delivery: v.id, event },
    };
  }
}
