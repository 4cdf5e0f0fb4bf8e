/**
 * Where a workflow may render `{{ secrets.NAME }}`, and how. A secret goes only into fields that are
 * sent to an endpoint the definition names literally: an http step's `url`, `headers` and `body`, an
 * llm step's `api_key`. Everywhere else (prompts, transforms, approval messages, for_each) it would
 * reach a model, an agent, a reviewer or the step record, so it is refused at registration.
 *
 * A secret is rendered only as a plain `{{ secrets.NAME }}` output, never through a filter, a tag or a
 * capture: what is sent is then exactly the value, percent-encoded in a URL or escaped in a JSON
 * string, and the Redactor (given those forms: secretForms) finds every copy that comes back.
 */

import type { StepDefinition, WorkerName } from '../domain/workflow-definition.ts';
import { AppError } from '../errors.ts';
import { Redactor, secretForms } from '../secrets/redactor.ts';
import { type SecretStore, unknownSecretMessage } from '../secrets/secret-store.ts';
import { templateReferences } from './template.ts';

type Path = ReadonlyArray<string | number>;

/** Per worker, the top-level fields a secret may be rendered into. */
const SECRET_FIELDS: Record<WorkerName, readonly string[]> = {
  http: ['url', 'headers', 'body'],
  llm: ['api_key'],
  claude: [],
  transform: [],
  approval: [],
};

/** Why a field may not hold a secret, in the words of who would see it. */
const WHO_SEES: Record<WorkerName, string> = {
  claude: 'the agent and the step record would see them',
  llm: 'the model and the step record would see them',
  http: 'the step record would show them',
  transform: 'its output is stored, shown and passed on',
  approval: 'the reviewer and the step record would see them',
};

/** A `{{ secrets.NAME }}` output with nothing else in it (whitespace control allowed). */
const SECRET_OUTPUT = /\{\{-?\s*secrets\.([A-Za-z_][A-Za-z0-9_]*)\s*-?\}\}/g;
/** Tags that turn rendered text into a variable, which a filter could then cut into pieces. */
const CAPTURING_TAG = /\{%-?\s*(?:capture|liquid)\b/;

export interface SecretUse {
  /** Secrets rendered as plain `{{ secrets.NAME }}` outputs. */
  names: string[];
  /** The template reads `secrets` some other way (a filter, a tag, a lookup) or captures rendered text. */
  other: boolean;
}

/** The secrets a template renders, and whether it reads `secrets` in a way that is refused. */
export function secretUses(tpl: string): SecretUse {
  if (!tpl.includes('secrets')) return { names: [], other: false };
  const names = new Set<string>();
  const rest = tpl.replace(SECRET_OUTPUT, (_match, name: string) => {
    names.add(name);
    return '';
  });
  let other: boolean;
  try {
    other = templateReferences(rest).includes('secrets');
  } catch {
    other = true; // what is left does not parse on its own: refuse rather than guess
  }
  if (names.size > 0 && CAPTURING_TAG.test(rest)) other = true;
  return { names: [...names], other };
}

/** Whether a template at `path` (`['steps', name, field, …]`) of a `worker` step may render secrets. */
function mayHoldSecrets(worker: WorkerName, path: Path): boolean {
  return typeof path[2] === 'string' && SECRET_FIELDS[worker].includes(path[2]);
}

/**
 * The rule a template's use of secrets breaks, if any (definition.ts reports it with the path).
 * `path` is the template's definition path; `field` names it in the message.
 */
export function secretRule(step: StepDefinition, path: Path, tpl: string): string | undefined {
  const use = secretUses(tpl);
  if (use.names.length === 0 && !use.other) return undefined;
  const field = typeof path[2] === 'string' ? path[2] : 'field';
  if (!mayHoldSecrets(step.worker, path)) {
    return (
      `renders a secret, and secrets cannot be rendered into ${article(step.worker)} ${step.worker} ${field}: ` +
      `${WHO_SEES[step.worker]} (secrets go only into an http step's url, headers and body and an llm step's api_key)`
    );
  }
  if (use.other) {
    return 'must render a secret as {{ secrets.NAME }} alone: no filters, tags, captures or computed names';
  }
  return undefined;
}

/**
 * An http step that sends a secret must name its scheme and host literally: an input or an upstream
 * output must never pick where the secret goes. The URL's text up to its first tag must therefore
 * hold the whole origin and end it (`/`, `?` or `#`), or be the whole URL.
 */
export function literalOriginRule(url: string): string | undefined {
  const cut = url.search(/\{[{%]/);
  if (cut < 0) return undefined;
  if (/^\s*https?:\/\/[^/?#{}\s]+[/?#]/i.test(url.slice(0, cut))) return undefined;
  return (
    'must name its scheme and host literally (https://api.example.com/…) before any {{ }} or {% %}, ' +
    'because the step sends secrets: no input or step output may choose where they go'
  );
}

/** The llm `api_key` holds a secret: a key written in the definition would be stored and shown with it. */
export function apiKeyRule(tpl: string): string | undefined {
  return secretUses(tpl).names.length > 0
    ? undefined
    : 'must be {{ secrets.NAME }}: a key written here would be stored and shown with the definition';
}

/** Every secret a step's templates render, with the definition path of each use. */
export function secretRefs(
  step: StepDefinition,
  templates: Array<[Path, string]>,
): Array<{ path: Path; name: string }> {
  const out: Array<{ path: Path; name: string }> = [];
  for (const [path, tpl] of templates) {
    if (!mayHoldSecrets(step.worker, path)) continue;
    for (const name of secretUses(tpl).names) out.push({ path, name });
  }
  return out;
}

/** What a step's secret-bearing templates see: the step's scope plus only the secrets it names. */
export function withSecrets(
  scope: Record<string, unknown>,
  names: readonly string[],
  secrets: SecretStore,
  field: string,
): Record<string, unknown> {
  const values: Record<string, string> = {};
  for (const name of names) {
    const value = secrets.get(name);
    // Registration refused unknown names; this is a secret removed since, named precisely.
    if (value === undefined) throw new AppError('validation', unknownSecretMessage(field, name), { field });
    values[name] = value;
  }
  return { ...scope, secrets: values };
}

/** Replaces every form of the given secrets in a value's strings: what the step record shows. */
export function hideSecrets<T>(value: T, names: readonly string[], secrets: SecretStore): T {
  const forms = names.flatMap((name) => {
    const secret = secrets.get(name);
    return secret === undefined ? [] : secretForms(secret);
  });
  return forms.length === 0 ? value : new Redactor(forms).value(value);
}

function article(worker: WorkerName): string {
  return worker === 'claude' || worker === 'transform' ? 'a' : 'an';
}
