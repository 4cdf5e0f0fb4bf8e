/**
 * Writes the orchestrator's transitions: to the store first, and only once that is durable are the
 * transition's events published and its effects carried out (runners started, timers armed, waiters
 * woken). A failed write has no effects at all. Writes in flight are tracked so shutdown can wait.
 */
import { EventEmitter } from 'node:events';
import type { WorkflowStore } from '../store/workflow-store.ts';
import type { Transition } from './run-state.ts';
import type { RunEvent } from './workflow-api.ts';

export class TransitionWriter {
  readonly #store: WorkflowStore;
  readonly #logger: { error(obj: object, msg?: string): void };
  readonly #emitter = new EventEmitter();
  readonly #writes = new Set<Promise<void>>();

  constructor(store: WorkflowStore, logger: { error(obj: object, msg?: string): void }) {
    this.#store = store;
    this.#logger = logger;
    this.#emitter.setMaxListeners(0);
  }

  commit(tx: Transition): Promise<void> {
    const done = (async () => {
      let saved: RunEvent[] = [];
      if (!tx.empty) {
        try {
          saved = await this.#store.apply(tx.toBatch());
        } catch (err) {
          // Nothing of this transition happened durably, so none of its effects may happen either.
          this.#logger.error({ err }, 'workflow engine: writing a transition failed');
          throw err;
        }
      }
      for (const event of saved) {
        try {
          this.#emitter.emit(`event:${event.run_id}`, event);
        } catch (err) {
          this.#logger.error({ err }, 'workflow engine: a run event listener failed');
        }
      }
      // Every committed batch at once, for the cross-node relay (WorkflowService).
      if (saved.length > 0) {
        try {
          this.#emitter.emit('events', saved);
        } catch (err) {
          this.#logger.error({ err }, 'workflow engine: a run event listener failed');
        }
      }
      // The transition is durable: one failing effect (or listener) must not keep the others from happening.
      for (const effect of tx.after) {
        try {
          effect();
        } catch (err) {
          this.#logger.error({ err }, 'workflow engine: an effect of a transition failed');
        }
      }
    })();
    this.#writes.add(done);
    void done.catch(() => undefined).finally(() => this.#writes.delete(done));
    return done;
  }

  /** Resolves once every write started so far has settled. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#writes]);
  }

  onEvent(runId: string, listener: (event: RunEvent) => void): () => void {
    this.#emitter.on(`event:${runId}`, listener);
    return () => this.#emitter.off(`event:${runId}`, listener);
  }

  onTerminal(runId: string, listener: () => void): () => void {
    this.#emitter.on(`terminal:${runId}`, listener);
    return () => this.#emitter.off(`terminal:${runId}`, listener);
  }

  /** Hears every batch of run events once it is durable. */
  onAnyEvents(listener: (events: RunEvent[]) => void): () => void {
    this.#emitter.on('events', listener);
    return () => this.#emitter.off('events', listener);
  }

  /** Hears of every run that ends (its checkouts are removed then). */
  onAnyTerminal(listener: (runId: string) => void): () => void {
    this.#emitter.on('terminal', listener);
    return () => this.#emitter.off('terminal', listener);
  }

  /** Tells the run's waiters that it is over (call as an effect, once that is durable). */
  terminal(runId: string): void {
    this.#emitter.emit(`terminal:${runId}`);
    this.#emitter.emit('terminal', runId);
  }
}
