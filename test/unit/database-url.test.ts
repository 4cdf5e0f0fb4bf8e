/** SWITCHYARD_DATABASE_URL: checked once at start, named when wrong, its password never repeated. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, test } from 'node:test';
import { loadConfig } from '../../src/config.ts';
import { tempDir } from '../fixtures/harness.ts';

const dirs = [tempDir('db-url-'), tempDir('db-url-ws-')] as const;
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});
const base = () => ({ SWITCHYARD_DATA_DIR: dirs[0], SWITCHYARD_WORKSPACE_ROOTS: dirs[1] });

test('unset or empty means SQLite; a postgres:// or postgresql:// URL is kept as given', () => {
  assert.equal(loadConfig(base()).databaseUrl, undefined);
  assert.equal(loadConfig({ ...base(), SWITCHYARD_DATABASE_URL: '' }).databaseUrl, undefined);
  for (const url of ['postgres://u:p@db.internal:5432/switchyard', 'postgresql://u@localhost/s?host=/run/postgresql']) {
    assert.equal(loadConfig({ ...base(), SWITCHYARD_DATABASE_URL: url }).databaseUrl, url);
  }
});

test('anything else is refused naming the variable, without repeating the URL or its password', () => {
  for (const url of ['mysql://u:hunter2-secret@h/db', 'hunter2-secret', 'postgres://u:hunter2-secret@[bad/db']) {
    assert.throws(
      () => loadConfig({ ...base(), SWITCHYARD_DATABASE_URL: url }),
      (err: Error & { kind?: string; field?: string }) => {
        assert.equal(err.kind, 'validation');
        assert.equal(err.field, 'SWITCHYARD_DATABASE_URL');
        assert.match(err.message, /^SWITCHYARD_DATABASE_URL must be a postgres:\/\/ or postgresql:\/\/ URL/);
        assert.ok(!err.message.includes('hunter2'), err.message);
        return true;
      },
    );
  }
});
