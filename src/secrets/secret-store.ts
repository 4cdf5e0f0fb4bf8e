/**
 * Named secrets a workflow may use (`{{ secrets.GITHUB_TOKEN }}`): from the environment
 * (`SWITCHYARD_SECRET_GITHUB_TOKEN=…`) and from a secrets file (`SWITCHYARD_SECRETS_FILE`, dotenv
 * lines `NAME=value`). The environment wins over the file, so an operator can override one value.
 *
 * Values live only in this object's private fields: a Config that holds the store logs as `{}`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { AppError } from '../errors.ts';
import { isWithin, realPathOf } from '../paths.ts';

export const SECRET_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ENV_PREFIX = 'SWITCHYARD_SECRET_';
const FILE_VAR = 'SWITCHYARD_SECRETS_FILE';
/**
 * The Redactor replaces known values of this length or more wherever they appear; a shorter one would
 * either stay visible or, redacted exactly, blank out ordinary words. So shorter secrets are refused.
 */
export const MIN_SECRET_LENGTH = 8;

export class SecretStore {
  readonly #values: Map<string, string>;

  constructor(values: Record<string, string> = {}) {
    this.#values = new Map(Object.entries(values).filter(([, v]) => v !== ''));
    for (const [name, value] of this.#values) {
      if (!SECRET_NAME.test(name)) {
        throw new AppError('validation', `"${name}" is not a valid secret name (A-Z, a-z, 0-9, _)`, { field: name });
      }
      if (value.length < MIN_SECRET_LENGTH) throw tooShort(name, `${ENV_PREFIX}${name}`, value.length);
    }
  }

  /**
   * The secrets of an environment. A secrets file that others can read is refused: its values would
   * not be secret on a shared machine. So is one inside a workspace root, where a task could read it.
   */
  static fromEnv(
    env: Record<string, string | undefined>,
    cwd = process.cwd(),
    workspaceRoots: string[] = [],
  ): SecretStore {
    const values: Record<string, string> = {};
    const file = env[FILE_VAR];
    if (file) {
      const resolved = path.resolve(cwd, file);
      const real = realPathOf(resolved);
      const root = workspaceRoots.find((r) => isWithin(realPathOf(r), real));
      if (root !== undefined) {
        throw new AppError(
          'validation',
          `${FILE_VAR} ${resolved} lies inside the workspace root ${root}, where tasks can read it: keep it outside every workspace root`,
          { field: FILE_VAR },
        );
      }
      Object.assign(values, readSecretsFile(resolved));
    }
    for (const [key, value] of Object.entries(env)) {
      if (!key.startsWith(ENV_PREFIX) || value === undefined || value === '') continue;
      const name = key.slice(ENV_PREFIX.length);
      if (!SECRET_NAME.test(name)) {
        throw new AppError('validation', `${key}: "${name}" is not a valid secret name (A-Z, a-z, 0-9, _)`, {
          field: key,
        });
      }
      if (value.length < MIN_SECRET_LENGTH) throw tooShort(name, key, value.length);
      values[name] = value;
    }
    return new SecretStore(values);
  }

  has(name: string): boolean {
    return this.#values.has(name);
  }

  get(name: string): string | undefined {
    return this.#values.get(name);
  }

  /** Names only, for messages ("known secrets: …") and `/health`. */
  names(): string[] {
    return [...this.#values.keys()].sort();
  }

  /** Every value, for the redactor. */
  values(): string[] {
    return [...this.#values.values()];
  }

  /** Never print values, whatever serializes this. */
  toJSON(): { names: string[] } {
    return { names: this.names() };
  }
}

function readSecretsFile(file: string): Record<string, string> {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    throw new AppError('validation', `${FILE_VAR} ${file} does not exist or cannot be read`, { field: FILE_VAR });
  }
  if (!stat.isFile()) throw new AppError('validation', `${FILE_VAR} ${file} is not a file`, { field: FILE_VAR });
  if ((stat.mode & 0o077) !== 0) {
    throw new AppError(
      'validation',
      `${FILE_VAR} ${file} is readable or writable by group or others (mode ${(stat.mode & 0o777).toString(8)}): ` +
        `run chmod 600 ${file}`,
      { field: FILE_VAR },
    );
  }
  const parsed = parseEnv(fs.readFileSync(file, 'utf8')) as Record<string, string>;
  for (const [name, value] of Object.entries(parsed)) {
    if (!SECRET_NAME.test(name)) {
      throw new AppError('validation', `${FILE_VAR} ${file}: "${name}" is not a valid secret name (A-Z, 0-9, _)`, {
        field: FILE_VAR,
      });
    }
    if (value !== '' && value.length < MIN_SECRET_LENGTH) {
      throw tooShort(name, `${FILE_VAR} ${file}: ${name}`, value.length, FILE_VAR);
    }
  }
  return parsed;
}

function tooShort(name: string, where: string, length: number, field = `${ENV_PREFIX}${name}`): AppError {
  return new AppError(
    'validation',
    `${where} is ${length} characters long; a secret must have at least ${MIN_SECRET_LENGTH}, ` +
      'so that it can be redacted wherever it might appear without redacting ordinary words',
    { field },
  );
}

/** The message for a secret a definition names but the server does not have. */
export function unknownSecretMessage(field: string, name: string): string {
  return `${field} names the secret ${name}, which is not set: set ${ENV_PREFIX}${name} or add ${name}=… to ${FILE_VAR}`;
}

/** `{{ secrets.NAME }}` and nothing else: the form a field that holds one credential takes. */
const WHOLE_REF = /^\s*\{\{\s*secrets\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}\s*$/;

/**
 * The value of a field that is either a literal or exactly one `{{ secrets.NAME }}` (webhook secrets,
 * git credentials). `field` names the definition path in errors.
 */
export function resolveSecretField(text: string, secrets: SecretStore, field: string): string {
  const match = WHOLE_REF.exec(text);
  if (!match) return text;
  const name = match[1] as string;
  const value = secrets.get(name);
  if (value === undefined) throw new AppError('validation', unknownSecretMessage(field, name), { field });
  return value;
}

/** The secret a field names, if it is exactly one `{{ secrets.NAME }}`. */
export function secretRefName(text: string): string | undefined {
  return WHOLE_REF.exec(text)?.[1];
}
