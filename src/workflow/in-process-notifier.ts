/**
 * A Notifier inside one process (an EventEmitter), for the workflow engine when nothing else is given.
 * The notifier branch's embedded Notifier can take its place unchanged (src/cluster/notifier.ts).
 */
import { EventEmitter } from 'node:events';
import type { Notifier } from '../cluster/notifier.ts';

export class InProcessNotifier implements Notifier {
  readonly #emitter = new EventEmitter().setMaxListeners(0);

  async publish(channel: string, payload: unknown): Promise<void> {
    this.#emitter.emit(channel, payload);
  }

  subscribe(channel: string, listener: (payload: unknown) => void): () => void {
    this.#emitter.on(channel, listener);
    return () => this.#emitter.off(channel, listener);
  }

  onReconnect(): () => void {
    return () => undefined;
  }

  async close(): Promise<void> {
    this.#emitter.removeAllListeners();
  }
}
