/** SWITCHYARD_ROLE, SWITCHYARD_LEASE_SECONDS, SWITCHYARD_RECONCILE_SECONDS, SWITCHYARD_DRAIN_SECONDS: checked once at start. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, test } from 'node:test';
import { monitorSecondsFor } from '../../src/cluster/open-queue.ts';
import { loadConfig } from '../../src/config.ts';
import { tempDir } from '../fixtures/harness.ts';

const dirs = [tempDir('cluster-cfg-'), tempDir('cluster-cfg-ws-')] as const;
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});
const base = () => ({ SWITCHYARD_DATA_DIR: dirs[0], SWITCHYARD_WORKSPACE_ROOTS: dirs[1] });
const PG = { SWITCHYARD_DATABASE_URL: 'postgres://u@db.internal/switchyard' };

function refused(env: Record<string, string>, flags: Record<string, string>, field: string, message: RegExp): void {
  assert.throws(
    () => loadConfig({ ...base(), ...env }, flags),
    (err: Error & { kind?: string; field?: string }) => {
      assert.equal(err.kind, 'validation');
      assert.equal(err.field, field);
      assert.match(err.message, message);
      return true;
    },
  );
}

test('the role defaults to all; api and worker are taken on PostgreSQL, from the env or --role', () => {
  const c = loadConfig(base());
  assert.equal(c.role, 'all');
  assert.equal(c.leaseSeconds, 20);
  assert.equal(c.drainSeconds, 30);
  assert.equal(loadConfig({ ...base(), ...PG, SWITCHYARD_ROLE: 'api' }).role, 'api');
  assert.equal(loadConfig({ ...base(), ...PG }, { role: 'worker' }).role, 'worker');
});

test('api and worker are refused on SQLite, naming SWITCHYARD_ROLE', () => {
  for (const role of ['api', 'worker']) {
    refused({ SWITCHYARD_ROLE: role }, {}, 'SWITCHYARD_ROLE', /needs SWITCHYARD_DATABASE_URL/);
    refused({}, { role }, 'SWITCHYARD_ROLE', /SWITCHYARD_ROLE/);
  }
});

test('an unknown role or a lease below pg-boss minimum is refused naming the variable', () => {
  refused({ ...PG, SWITCHYARD_ROLE: 'scheduler' }, {}, 'SWITCHYARD_ROLE', /must be api, worker or all/);
  refused({ ...PG, SWITCHYARD_LEASE_SECONDS: '5' }, {}, 'SWITCHYARD_LEASE_SECONDS', /SWITCHYARD_LEASE_SECONDS/);
  refused({ ...PG, SWITCHYARD_RECONCILE_SECONDS: '0' }, {}, 'SWITCHYARD_RECONCILE_SECONDS', /RECONCILE/);
  refused({ ...PG, SWITCHYARD_RUNS_PER_WORKER: '0' }, {}, 'SWITCHYARD_RUNS_PER_WORKER', /RUNS_PER_WORKER/);
});

test('the default lease notices a dead worker within 30 s', () => {
  const lease = loadConfig(base()).leaseSeconds;
  assert.ok(lease + monitorSecondsFor(lease) <= 30);
  assert.equal(monitorSecondsFor(10), 2);
});
