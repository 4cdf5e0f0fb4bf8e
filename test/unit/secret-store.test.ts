import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { inspect } from 'node:util';
import type { AppError } from '../../src/errors.ts';
import { Redactor, secretForms } from '../../src/secrets/redactor.ts';
import { resolveSecretField, SecretStore, secretRefName } from '../../src/secrets/secret-store.ts';

const TOKEN = 'tok-3f9a1c7e52b84d06';

function secretsFile(t: { after(fn: () => void): void }, text: string, mode = 0o600): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-secrets-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'secrets.env');
  fs.writeFileSync(file, text);
  fs.chmodSync(file, mode);
  return file;
}

test('secrets come from SWITCHYARD_SECRET_* variables; other variables are not secrets', () => {
  const store = SecretStore.fromEnv({
    SWITCHYARD_SECRET_API_TOKEN: TOKEN,
    API_TOKEN: 'not-a-secret-value',
    HOME: '/x',
  });
  assert.deepEqual(store.names(), ['API_TOKEN']);
  assert.equal(store.get('API_TOKEN'), TOKEN);
  assert.equal(store.has('HOME'), false);
});

test('a 0600 secrets file is read as dotenv lines; the environment overrides one of its values', (t) => {
  const file = secretsFile(t, `# comment\nAPI_TOKEN=${TOKEN}\nGIT_PASSWORD="pass word 1234"\n`);
  const store = SecretStore.fromEnv({
    SWITCHYARD_SECRETS_FILE: file,
    SWITCHYARD_SECRET_GIT_PASSWORD: 'from-the-env-9876',
  });
  assert.deepEqual(store.names(), ['API_TOKEN', 'GIT_PASSWORD']);
  assert.equal(store.get('API_TOKEN'), TOKEN);
  assert.equal(store.get('GIT_PASSWORD'), 'from-the-env-9876');
});

test('a relative secrets file path is resolved against the given cwd', (t) => {
  const file = secretsFile(t, `API_TOKEN=${TOKEN}\n`);
  const store = SecretStore.fromEnv({ SWITCHYARD_SECRETS_FILE: path.basename(file) }, path.dirname(file));
  assert.equal(store.get('API_TOKEN'), TOKEN);
});

test('a secrets file others can read (0644) is refused, naming SWITCHYARD_SECRETS_FILE and the fix', (t) => {
  const file = secretsFile(t, `API_TOKEN=${TOKEN}\n`, 0o644);
  assert.throws(
    () => SecretStore.fromEnv({ SWITCHYARD_SECRETS_FILE: file }),
    (err: AppError) =>
      err.kind === 'validation' &&
      err.field === 'SWITCHYARD_SECRETS_FILE' &&
      err.message.includes('SWITCHYARD_SECRETS_FILE') &&
      err.message.includes('644') &&
      err.message.includes(`chmod 600 ${file}`) &&
      !err.message.includes(TOKEN),
  );
});

test('a missing secrets file is refused, naming the variable', () => {
  assert.throws(
    () => SecretStore.fromEnv({ SWITCHYARD_SECRETS_FILE: '/nonexistent/switchyard-secrets.env' }),
    (err: AppError) => err.field === 'SWITCHYARD_SECRETS_FILE' && /does not exist/.test(err.message),
  );
});

test('bad secret names are refused, in the file and in the environment', (t) => {
  const file = secretsFile(t, `my-token=${TOKEN}\n`);
  assert.throws(
    () => SecretStore.fromEnv({ SWITCHYARD_SECRETS_FILE: file }),
    (err: AppError) => err.field === 'SWITCHYARD_SECRETS_FILE' && err.message.includes('"my-token" is not a valid'),
  );
  assert.throws(
    () => SecretStore.fromEnv({ 'SWITCHYARD_SECRET_MY-TOKEN': TOKEN }),
    (err: AppError) => err.field === 'SWITCHYARD_SECRET_MY-TOKEN' && err.message.includes('not a valid secret name'),
  );
  assert.throws(() => new SecretStore({ '1X': TOKEN }), /not a valid secret name/);
});

test('secrets shorter than 8 characters are refused: they could not be redacted', (t) => {
  assert.throws(
    () => SecretStore.fromEnv({ SWITCHYARD_SECRET_PIN: '1234' }),
    (err: AppError) =>
      err.field === 'SWITCHYARD_SECRET_PIN' &&
      err.message.includes('SWITCHYARD_SECRET_PIN is 4 characters long') &&
      !err.message.includes('1234'),
  );
  const file = secretsFile(t, 'PIN=1234567\n');
  assert.throws(
    () => SecretStore.fromEnv({ SWITCHYARD_SECRETS_FILE: file }),
    (err: AppError) => err.field === 'SWITCHYARD_SECRETS_FILE' && err.message.includes('PIN is 7 characters long'),
  );
  // An empty variable is no secret at all, not a short one.
  assert.deepEqual(SecretStore.fromEnv({ SWITCHYARD_SECRET_EMPTY: '' }).names(), []);
});

test('serializing the store shows names only: a logged Config never prints a value', () => {
  const store = new SecretStore({ API_TOKEN: TOKEN, OTHER: 'other-secret-value' });
  const json = JSON.stringify({ config: { secrets: store } });
  assert.equal(json, '{"config":{"secrets":{"names":["API_TOKEN","OTHER"]}}}');
  assert.ok(!inspect(store).includes(TOKEN));
});

test('resolveSecretField: a literal stays, one {{ secrets.NAME }} is its value, an unknown one names the variable', () => {
  const store = new SecretStore({ API_TOKEN: TOKEN });
  assert.equal(resolveSecretField('literal-value', store, 'x'), 'literal-value');
  assert.equal(resolveSecretField(' {{ secrets.API_TOKEN }} ', store, 'x'), TOKEN);
  assert.equal(secretRefName('{{secrets.API_TOKEN}}'), 'API_TOKEN');
  assert.throws(
    () => resolveSecretField('{{ secrets.NOPE }}', store, 'triggers[0].webhook.secret'),
    (err: AppError) =>
      err.field === 'triggers[0].webhook.secret' &&
      err.message.includes('NOPE') &&
      err.message.includes('SWITCHYARD_SECRET_NOPE') &&
      err.message.includes('SWITCHYARD_SECRETS_FILE'),
  );
});

test('the Redactor, given secretForms, finds a secret raw, percent-encoded and JSON-escaped', () => {
  const secret = 'p@ss/w0rd+"quoted"=';
  const redactor = new Redactor(secretForms(secret));
  assert.equal(redactor.text(`raw ${secret}`), 'raw [redacted]');
  assert.equal(redactor.text(`https://x.test/?k=${encodeURIComponent(secret)}`), 'https://x.test/?k=[redacted]');
  assert.equal(redactor.text(JSON.stringify({ k: secret })), '{"k":"[redacted]"}');
});

test('a secrets file inside a workspace root is refused: a task could read it', (t) => {
  const file = secretsFile(t, `API_TOKEN=${TOKEN}\n`);
  const root = path.dirname(file);
  assert.throws(
    () => SecretStore.fromEnv({ SWITCHYARD_SECRETS_FILE: file }, '/', ['/nonexistent-root', root]),
    (err: AppError) =>
      err.field === 'SWITCHYARD_SECRETS_FILE' && err.message.includes(`inside the workspace root ${root}`),
  );
  // Through a symlink from outside, too: judged on the real path.
  const link = path.join(os.tmpdir(), `switchyard-secrets-link-${process.pid}`);
  fs.symlinkSync(file, link);
  t.after(() => fs.rmSync(link, { force: true }));
  assert.throws(() => SecretStore.fromEnv({ SWITCHYARD_SECRETS_FILE: link }, '/', [root]), /inside the workspace root/);
  assert.equal(
    SecretStore.fromEnv({ SWITCHYARD_SECRETS_FILE: file }, '/', ['/nonexistent-root']).get('API_TOKEN'),
    TOKEN,
  );
});

test('the Redactor finds a secret escaped twice (a JSON body echoed inside a JSON reply) whole', () => {
  const secret = 'Sy-"s3cr3t"/T0k3n+9=Z';
  const redactor = new Redactor(secretForms(secret));
  const echoed = JSON.stringify({ data: JSON.stringify({ token: secret }) });
  assert.equal(redactor.text(echoed), '{"data":"{\\"token\\":\\"[redacted]\\"}"}');
  // Forms that share a tail are merged, not redacted one after another (which left the head standing).
  assert.equal(redactor.text(`a ${JSON.stringify(secret)} b`), 'a "[redacted]" b');
});
