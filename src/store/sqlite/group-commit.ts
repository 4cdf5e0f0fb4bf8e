/**
 * Group commit: writes requested in the same tick share one transaction and so one fsync.
 * Each caller's promise resolves only after COMMIT returns, so nothing is acknowledged before it is
 * durable, yet a burst of submissions costs one disk flush instead of one each.
 */
import type { DatabaseSync } from 'node:sqlite';

interface Pending {
  work: () => unknown;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

export class GroupCommit {
  readonly #db: DatabaseSync;
  #pending: Pending[] = [];
  #scheduled = false;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  run<T>(work: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#pending.push({ work, resolve: resolve as (v: unknown) => void, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#scheduled = false;
    const batch = this.#pending;
    this.#pending = [];
    const outcomes: Array<{ ok: boolean; value: unknown }> = [];
    try {
      this.#db.exec('BEGIN IMMEDIATE');
      for (const item of batch) {
        // A failing write is rolled back to its savepoint alone; the others in the batch still commit.
        this.#db.exec('SAVEPOINT item');
        try {
          outcomes.push({ ok: true, value: item.work() });
          this.#db.exec('RELEASE item');
        } catch (err) {
          this.#db.exec('ROLLBACK TO item');
          this.#db.exec('RELEASE item');
          outcomes.push({ ok: false, value: err });
        }
      }
      this.#db.exec('COMMIT');
    } catch (err) {
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      for (const item of batch) item.reject(err);
      return;
    }
    batch.forEach((item, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) item.resolve(outcome.value);
      else item.reject(outcome.value);
    });
  }
}
