/**
 * Renders step templates without holding the event loop. LiquidJS renders as a tree of generators
 * (its `toValueSync` drives them in one go); a SlicedRender drives the same tree step by step, so a
 * render can stop at any point and go on later: for a few milliseconds inside the transition that
 * starts the attempt (a quick template is done there, as if synchronous), then in slices of at most
 * SLICE_MS between which the event loop runs other work. Every slice is charged to the step's
 * RenderBudget, which fails the render once spent.
 */
import { setImmediate as nextTick } from 'node:timers/promises';
import { AppError } from '../errors.ts';

/** The longest a render holds the event loop before it lets other work run. */
export const SLICE_MS = 10;

/**
 * The time one step's renders (every attempt, every for_each item) may take in all
 * (SWITCHYARD_STEP_RENDER_BUDGET): a step of 10,000 items whose template each takes a second must
 * fail, not render for hours. Only time spent rendering counts, not time spent waiting.
 */
export class RenderBudget {
  readonly limitMs: number;
  spentMs = 0;

  constructor(limitMs: number) {
    this.limitMs = limitMs;
  }
}

function isIterator(value: unknown): value is Iterator<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as Iterator<unknown>).next === 'function';
}

/**
 * One render in progress. The protocol is LiquidJS's: a generator that yields a generator gets that
 * generator's return value back (or its exception thrown into it); any other yielded value is sent
 * straight back.
 */
export class SlicedRender<T> {
  readonly #stack: Iterator<unknown>[];
  readonly #budget: RenderBudget;
  /** Named in the budget's error: `steps.summarize`. */
  readonly #label: string;
  #input: unknown;
  #throwing = false;
  #done = false;
  #value: T | undefined;

  constructor(root: Generator<unknown, T, unknown>, budget: RenderBudget, label: string) {
    this.#stack = [root];
    this.#budget = budget;
    this.#label = label;
  }

  get done(): boolean {
    return this.#done;
  }

  /** The result; only once done. */
  get value(): T {
    if (!this.#done) throw new Error('the render has not finished');
    return this.#value as T;
  }

  /**
   * Renders synchronously for at most `ms` (0: not at all); true once finished. Throws what the
   * render throws, or a `validation` error once the step's budget is spent.
   */
  runFor(ms: number): boolean {
    const start = performance.now();
    try {
      return this.#stepUntil(start, start + ms);
    } finally {
      this.#budget.spentMs += performance.now() - start;
    }
  }

  /** Finishes the render in slices, yielding to the event loop between them; `signal` stops it. */
  async finish(signal?: AbortSignal): Promise<T> {
    while (!this.runFor(SLICE_MS)) {
      await nextTick();
      signal?.throwIfAborted();
    }
    return this.#value as T;
  }

  #stepUntil(start: number, deadline: number): boolean {
    const budget = this.#budget;
    for (;;) {
      if (this.#done) return true;
      const now = performance.now();
      if (budget.spentMs + (now - start) > budget.limitMs) {
        throw new AppError(
          'validation',
          `${this.#label}: rendering took more than the step's budget of ${budget.limitMs} ms (SWITCHYARD_STEP_RENDER_BUDGET)`,
          { field: this.#label },
        );
      }
      if (now >= deadline) return false;
      this.#step();
    }
  }

  #step(): void {
    const top = this.#stack.at(-1)!;
    let state: IteratorResult<unknown>;
    try {
      state = this.#throwing ? top.throw!(this.#input) : top.next(this.#input);
    } catch (err) {
      this.#stack.pop();
      if (this.#stack.length === 0) throw err;
      this.#throwing = true;
      this.#input = err;
      return;
    }
    this.#throwing = false;
    if (state.done) {
      this.#stack.pop();
      if (this.#stack.length === 0) {
        this.#done = true;
        this.#value = state.value as T;
      } else this.#input = state.value;
    } else if (isIterator(state.value)) {
      this.#stack.push(state.value);
      this.#input = undefined;
    } else this.#input = state.value;
  }
}
