/**
 * The webhook triggers of a workflow definition (`triggers: [{webhook: {name, provider, secret, …}}]`),
 * checked when the workflow is registered so that a hook that could never start a run is refused then,
 * not at its first delivery: its secret must be set, its input templates may read only what a delivery
 * provides, and its name must not be claimed by another workflow.
 */
import { Webhook } from 'standardwebhooks';
import type { WebhookTrigger, WorkflowDefinition } from '../domain/workflow-definition.ts';
import { AppError } from '../errors.ts';
import { resolveSecretField, type SecretStore, secretRefName } from '../secrets/secret-store.ts';
import { checkTemplate, isSingleExpression, templateReferences } from '../workflow/template.ts';

/** What an input template of a webhook trigger can read: the verified body, the event and the delivery id. */
export const HOOK_SCOPE_ROOTS = ['body', 'event', 'delivery'] as const;

export interface HookEntry {
  /** Position in `triggers`, for field paths (`triggers[1].webhook.inputs.repo`). */
  index: number;
  trigger: WebhookTrigger;
}

/** The webhook triggers of a definition, with their positions. */
export function webhookTriggersOf(def: WorkflowDefinition): HookEntry[] {
  const out: HookEntry[] = [];
  for (const [index, t] of (def.triggers ?? []).entries()) if ('webhook' in t) out.push({ index, trigger: t.webhook });
  return out;
}

export const hookField = (index: number, rest: string) => `triggers[${index}].webhook.${rest}`;

function invalid(field: string, rule: string): never {
  throw new AppError('validation', `${field} ${rule}`, { field });
}

/**
 * The signing secret of a hook. Refused when written literally: a definition is readable by every API
 * client (GET /v1/workflows), so the value must live in the secret store and be named here.
 */
export function hookSecret(entry: HookEntry, secrets: SecretStore): string {
  const field = hookField(entry.index, 'secret');
  if (secretRefName(entry.trigger.secret) === undefined) {
    invalid(
      field,
      'must name a secret as {{ secrets.NAME }} (SWITCHYARD_SECRET_NAME), not hold the value: definitions are readable by every API client',
    );
  }
  return resolveSecretField(entry.trigger.secret, secrets, field);
}

/** Standard Webhooks secrets are `whsec_` + base64 (the spec's format); anything else cannot verify. */
export function standardVerifier(secret: string, field: string): Webhook {
  try {
    return new Webhook(secret);
  } catch {
    return invalid(field, 'must be a Standard Webhooks secret: whsec_ followed by base64 (at least one byte)');
  }
}

/** Every string in an input value, with its field path: templates may sit inside objects and arrays. */
function* templatesIn(value: unknown, field: string): Generator<[string, string]> {
  if (typeof value === 'string') yield [field, value];
  else if (Array.isArray(value)) for (const [i, v] of value.entries()) yield* templatesIn(v, `${field}[${i}]`);
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) yield* templatesIn(v, `${field}.${k}`);
  }
}

/** A trigger template parses and reads only what a delivery holds. */
function checkHookTemplate(at: string, tpl: string): void {
  try {
    checkTemplate(tpl);
  } catch (err) {
    invalid(at, `has a template error: ${(err as Error).message.replace(/^template (syntax error: )?/, '')}`);
  }
  for (const ref of templateReferences(tpl)) {
    const root = ref.split('.')[0] as string;
    if (!(HOOK_SCOPE_ROOTS as readonly string[]).includes(root)) {
      invalid(at, `references "${ref}": a webhook trigger can read only ${HOOK_SCOPE_ROOTS.join(', ')}`);
    }
  }
}

/** Checks the webhook triggers of one definition (see the file comment). */
export function checkWebhookTriggers(def: WorkflowDefinition, secrets: SecretStore): void {
  const seen = new Set<string>();
  const declared = def.inputs ?? {};
  for (const entry of webhookTriggersOf(def)) {
    const { trigger, index } = entry;
    if (seen.has(trigger.name)) invalid(hookField(index, 'name'), `repeats the hook name "${trigger.name}"`);
    seen.add(trigger.name);
    const secret = hookSecret(entry, secrets);
    if (trigger.provider === 'standard') standardVerifier(secret, hookField(index, 'secret'));
    const inputs = trigger.inputs ?? {};
    for (const [name, value] of Object.entries(inputs)) {
      const field = hookField(index, `inputs.${name}`);
      if (!Object.hasOwn(declared, name)) invalid(field, `sets "${name}", which is not declared under inputs`);
      for (const [at, tpl] of templatesIn(value, field)) checkHookTemplate(at, tpl);
    }
    if (trigger.when !== undefined) {
      const field = hookField(index, 'when');
      if (!isSingleExpression(trigger.when))
        invalid(field, 'must be one {{ expression }}, e.g. {{ body.pull_request.merged }}');
      checkHookTemplate(field, trigger.when);
    }
    for (const [name, schema] of Object.entries(declared)) {
      if (!Object.hasOwn(schema, 'default') && !Object.hasOwn(inputs, name)) {
        invalid(
          hookField(index, 'inputs'),
          `must set the input "${name}": the workflow requires it and a delivery has no other way to give it`,
        );
      }
    }
  }
}

/**
 * Refuses a definition whose hook names another registered workflow already claims: a delivery to
 * `/v1/hooks/{name}` must start exactly one workflow.
 */
export function checkHookNamesFree(def: WorkflowDefinition, others: Iterable<WorkflowDefinition>): void {
  const mine = new Map(webhookTriggersOf(def).map((e) => [e.trigger.name, e.index]));
  if (mine.size === 0) return;
  for (const other of others) {
    if (other.name === def.name) continue;
    for (const { trigger } of webhookTriggersOf(other)) {
      const index = mine.get(trigger.name);
      if (index === undefined) continue;
      const field = hookField(index, 'name');
      throw new AppError(
        'conflict',
        `${field}: the hook "${trigger.name}" of workflow "${def.name}" is already the hook of workflow "${other.name}"; hook names are unique across workflows`,
        { field },
      );
    }
  }
}
