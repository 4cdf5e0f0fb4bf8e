/**
 * The embedded RunClusterStore (migration 007). One process owns an SQLite database, so the per-pool
 * lock of takePoolHold is the write transaction itself.
 */
import type { SQLInputValue } from 'node:sqlite';
import { toPoolHold, toRunCommand } from '../run-cluster-rows.ts';
import type { PoolHold, RunAdoption, RunClusterStore, RunCommand } from '../run-cluster-store.ts';
import type { Row } from './columns.ts';
import type { SqliteStore } from './sqlite-store.ts';

const ACTIVE = "status NOT IN ('completed', 'failed')";

export class SqliteRunClusterStore implements RunClusterStore {
  readonly #base: SqliteStore;

  constructor(base: SqliteStore) {
    this.#base = base;
  }

  #get(sql: string, ...params: SQLInputValue[]): Row | undefined {
    return this.#base.prepare(sql).get(...params) as Row | undefined;
  }

  #all(sql: string, ...params: SQLInputValue[]): Row[] {
    return this.#base.prepare(sql).all(...params) as Row[];
  }

  #run(sql: string, ...params: SQLInputValue[]): number {
    return Number(this.#base.prepare(sql).run(...params).changes);
  }

  adoptRun(id: string): Promise<RunAdoption | undefined> {
    return this.#base.write(() => {
      const row = this.#get(
        `UPDATE workflow_runs SET holders = holders + 1, adoption = adoption + 1, parked_until = NULL
         WHERE id = ? RETURNING holders, adoption`,
        id,
      );
      return row ? { holders: Number(row.holders), adoption: Number(row.adoption) } : undefined;
    });
  }

  releaseRun(id: string, adoption: number, parkedUntil: string | null): Promise<boolean> {
    return this.#base.write(
      () =>
        this.#run(
          'UPDATE workflow_runs SET holders = 0, parked_until = ? WHERE id = ? AND adoption = ?',
          parkedUntil,
          id,
          adoption,
        ) > 0,
    );
  }

  async listRunsToWake(now: string, options: { held: boolean }): Promise<string[]> {
    const held = options.held ? ' OR holders > 0' : '';
    return this.#all(
      `SELECT id FROM workflow_runs WHERE ${ACTIVE}
         AND ((holders = 0 AND (parked_until IS NULL OR parked_until <= ?))${held}) ORDER BY seq`,
      now,
    ).map((r) => String(r.id));
  }

  async addRunCommand(c: { id: string; run_id: string; action: RunCommand['action']; created_at: string }) {
    await this.#base.write(() =>
      this.#run(
        'INSERT INTO run_commands (id, run_id, action, created_at) VALUES (?, ?, ?, ?)',
        c.id,
        c.run_id,
        JSON.stringify(c.action),
        c.created_at,
      ),
    );
  }

  async getRunCommand(id: string): Promise<RunCommand | undefined> {
    const row = this.#get('SELECT * FROM run_commands WHERE id = ?', id);
    return row ? toRunCommand(row) : undefined;
  }

  async pendingRunCommands(runId: string): Promise<RunCommand[]> {
    return this.#all("SELECT * FROM run_commands WHERE run_id = ? AND status = 'pending' ORDER BY seq", runId).map(
      toRunCommand,
    );
  }

  async finishRunCommand(id: string, outcome: RunCommand['outcome'], at: string): Promise<void> {
    await this.#base.write(() =>
      this.#run(
        "UPDATE run_commands SET status = 'done', outcome = ?, finished_at = ? WHERE id = ? AND status = 'pending'",
        JSON.stringify(outcome),
        at,
        id,
      ),
    );
  }

  takePoolHold(hold: PoolHold, capacity: number): Promise<boolean> {
    return this.#base.write(() => {
      const index = hold.item_index ?? -1;
      const mine = this.#get(
        'SELECT 1 FROM pool_holds WHERE pool = ? AND run_id = ? AND step = ? AND item_index = ?',
        hold.pool,
        hold.run_id,
        hold.step,
        index,
      );
      if (mine) return true;
      const held = Number(this.#get('SELECT count(*) AS n FROM pool_holds WHERE pool = ?', hold.pool)?.n ?? 0);
      if (held >= capacity) return false;
      this.#run(
        'INSERT INTO pool_holds (pool, run_id, step, item_index, since) VALUES (?, ?, ?, ?, ?)',
        hold.pool,
        hold.run_id,
        hold.step,
        index,
        hold.since,
      );
      return true;
    });
  }

  async releasePoolHold(
    hold: Pick<PoolHold, 'pool' | 'run_id' | 'step' | 'item_index'> & { since?: string },
  ): Promise<void> {
    await this.#base.write(() =>
      this.#run(
        `DELETE FROM pool_holds WHERE pool = ? AND run_id = ? AND step = ? AND item_index = ?${hold.since === undefined ? '' : ' AND since = ?'}`,
        hold.pool,
        hold.run_id,
        hold.step,
        hold.item_index ?? -1,
        ...(hold.since === undefined ? [] : [hold.since]),
      ),
    );
  }

  dropRunPoolHolds(runId: string): Promise<string[]> {
    return this.#base.write(() =>
      this.#all('DELETE FROM pool_holds WHERE run_id = ? RETURNING pool', runId).map((r) => String(r.pool)),
    );
  }

  async listPoolHolds(): Promise<PoolHold[]> {
    return this.#all('SELECT * FROM pool_holds ORDER BY pool, since, rowid').map(toPoolHold);
  }
}
