/**
 * The PostgreSQL RunClusterStore (migration 007), shared by every process on the database. A pool hold
 * is taken under a transaction advisory lock on the pool's name, so two processes counting the same
 * pool's holders at once take turns, and a pool of one never has two holders.
 */
import { toPoolHold, toRunCommand } from '../run-cluster-rows.ts';
import type { PoolHold, RunAdoption, RunClusterStore, RunCommand } from '../run-cluster-store.ts';
import type { Row } from './columns.ts';
import type { PostgresStore } from './postgres-store.ts';

const ACTIVE = "status NOT IN ('completed', 'failed')";

/** The advisory-lock namespace of pool holds (postgres-store.ts numbers the others from 1). */
const LOCK_POOL = 17;

export class PostgresRunClusterStore implements RunClusterStore {
  readonly #base: PostgresStore;

  constructor(base: PostgresStore) {
    this.#base = base;
  }

  async #one(sql: string, params: unknown[] = []): Promise<Row | undefined> {
    return (await this.#base.pool.query(sql, params)).rows[0];
  }

  async #all(sql: string, params: unknown[] = []): Promise<Row[]> {
    return (await this.#base.pool.query(sql, params)).rows;
  }

  async adoptRun(id: string): Promise<RunAdoption | undefined> {
    const row = await this.#one(
      `UPDATE workflow_runs SET holders = holders + 1, adoption = adoption + 1, parked_until = NULL
       WHERE id = $1 RETURNING holders, adoption`,
      [id],
    );
    return row ? { holders: Number(row.holders), adoption: Number(row.adoption) } : undefined;
  }

  async releaseRun(id: string, adoption: number, parkedUntil: string | null): Promise<boolean> {
    const { rowCount } = await this.#base.pool.query(
      'UPDATE workflow_runs SET holders = 0, parked_until = $1 WHERE id = $2 AND adoption = $3',
      [parkedUntil, id, adoption],
    );
    return (rowCount ?? 0) > 0;
  }

  async listRunsToWake(now: string, options: { held: boolean }): Promise<string[]> {
    const held = options.held ? ' OR holders > 0' : '';
    const rows = await this.#all(
      `SELECT id FROM workflow_runs WHERE ${ACTIVE}
         AND ((holders = 0 AND (parked_until IS NULL OR parked_until <= $1))${held}) ORDER BY seq`,
      [now],
    );
    return rows.map((r) => String(r.id));
  }

  async addRunCommand(c: { id: string; run_id: string; action: RunCommand['action']; created_at: string }) {
    await this.#base.pool.query('INSERT INTO run_commands (id, run_id, action, created_at) VALUES ($1, $2, $3, $4)', [
      c.id,
      c.run_id,
      JSON.stringify(c.action),
      c.created_at,
    ]);
  }

  async getRunCommand(id: string): Promise<RunCommand | undefined> {
    const row = await this.#one('SELECT * FROM run_commands WHERE id = $1', [id]);
    return row ? toRunCommand(row) : undefined;
  }

  async pendingRunCommands(runId: string): Promise<RunCommand[]> {
    const rows = await this.#all("SELECT * FROM run_commands WHERE run_id = $1 AND status = 'pending' ORDER BY seq", [
      runId,
    ]);
    return rows.map(toRunCommand);
  }

  async finishRunCommand(id: string, outcome: RunCommand['outcome'], at: string): Promise<void> {
    await this.#base.pool.query(
      "UPDATE run_commands SET status = 'done', outcome = $1, finished_at = $2 WHERE id = $3 AND status = 'pending'",
      [JSON.stringify(outcome), at, id],
    );
  }

  takePoolHold(hold: PoolHold, capacity: number): Promise<boolean> {
    return this.#base.transaction(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_POOL, hold.pool]);
      const key = [hold.pool, hold.run_id, hold.step, hold.item_index ?? -1];
      const mine = await c.query(
        'SELECT 1 FROM pool_holds WHERE pool = $1 AND run_id = $2 AND step = $3 AND item_index = $4',
        key,
      );
      if (mine.rows.length > 0) return true;
      const { rows } = await c.query('SELECT count(*)::int AS n FROM pool_holds WHERE pool = $1', [hold.pool]);
      if (Number(rows[0].n) >= capacity) return false;
      await c.query('INSERT INTO pool_holds (pool, run_id, step, item_index, since) VALUES ($1, $2, $3, $4, $5)', [
        ...key,
        hold.since,
      ]);
      return true;
    });
  }

  async releasePoolHold(
    hold: Pick<PoolHold, 'pool' | 'run_id' | 'step' | 'item_index'> & { since?: string },
  ): Promise<void> {
    await this.#base.pool.query(
      `DELETE FROM pool_holds WHERE pool = $1 AND run_id = $2 AND step = $3 AND item_index = $4${hold.since === undefined ? '' : ' AND since = $5'}`,
      [hold.pool, hold.run_id, hold.step, hold.item_index ?? -1, ...(hold.since === undefined ? [] : [hold.since])],
    );
  }

  async dropRunPoolHolds(runId: string): Promise<string[]> {
    const rows = await this.#all('DELETE FROM pool_holds WHERE run_id = $1 RETURNING pool', [runId]);
    return rows.map((r) => String(r.pool));
  }

  async listPoolHolds(): Promise<PoolHold[]> {
    return (await this.#all('SELECT * FROM pool_holds ORDER BY pool COLLATE "C", since, ctid')).map(toPoolHold);
  }
}
