/**
 * SWITCHYARD_WORKFLOWS_DIR: every *.yaml, *.yml and *.json file in it is registered at start and again
 * whenever the directory changes (debounced, since editors write a file in several steps). A file that
 * does not validate is logged with its error (file, line, step, field) and skipped: one bad file must
 * not keep the server or the other workflows from starting.
 */
import fs from 'node:fs';
import path from 'node:path';
import { AppError } from '../errors.ts';
import type { Logger } from './engine-deps.ts';

const WORKFLOW_FILE = /\.(ya?ml|json)$/i;
const DEBOUNCE_MS = 200;

export type Register = (text: string, options: { filename: string; source: string }) => Promise<unknown>;

export class WorkflowsDir {
  readonly #dir: string;
  readonly #register: Register;
  readonly #logger: Logger;
  #watcher: fs.FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #loading: Promise<void> = Promise.resolve();

  constructor(dir: string, register: Register, logger: Logger) {
    this.#dir = dir;
    this.#register = register;
    this.#logger = logger;
  }

  async start(): Promise<void> {
    await this.load();
    try {
      this.#watcher = fs.watch(this.#dir, () => {
        clearTimeout(this.#timer);
        this.#timer = setTimeout(() => void this.load(), DEBOUNCE_MS);
      });
      this.#watcher.on('error', (err) => this.#logger.warn({ err, dir: this.#dir }, 'workflows dir: watch failed'));
    } catch (err) {
      this.#logger.warn({ err, dir: this.#dir }, 'workflows dir: cannot watch; changes need a restart');
    }
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#watcher?.close();
  }

  /** Registers every workflow file; loads never overlap. Resolves when this load is done. */
  load(): Promise<void> {
    this.#loading = this.#loading.then(() => this.#loadAll());
    return this.#loading;
  }

  async #loadAll(): Promise<void> {
    let names: string[];
    try {
      names = (await fs.promises.readdir(this.#dir)).filter((n) => WORKFLOW_FILE.test(n)).sort();
    } catch (err) {
      this.#logger.warn({ err, dir: this.#dir }, 'workflows dir: cannot read');
      return;
    }
    for (const name of names) {
      const file = path.join(this.#dir, name);
      try {
        const text = await fs.promises.readFile(file, 'utf8');
        await this.#register(text, { filename: name, source: file });
      } catch (err) {
        const detail = err instanceof AppError ? { error: err.message, field: err.field } : { err };
        this.#logger.warn({ file, ...detail }, 'workflows dir: invalid workflow file skipped');
      }
    }
  }
}
