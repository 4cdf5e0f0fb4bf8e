/**
 * Renders step templates without holding the event loop. LiquidJS renders as a tree of generators
 * (its `toValueSync` drives them in one go); a SlicedRender drives the same tree step by step, so a
 * render can stop at any point and go on later: for a few milliseconds inside the transition that
 * starts the attempt (a quick template is done there, as if synchronous), then in slices of at most
 * SLICE_MS between which the event loop runs other work. Every slice is charged to the step's
 * RenderBudget, which fails the render once spent.
 */
import { AppError } from '../errors.ts';

/** The longest a render holds the event loop before it lets other work run. */
export const SLICE_MS = 10;

/** A render's next slice, given the time its turn allows; or anything else waiting for a turn. */
type Job = (deadline: number) => void;

/**
 * Work waiting for a turn of the event loop, served from one setImmediate per turn for at most
 * SLICE_MS in all: were each render to wait on its own setImmediate, forty renders would all run in
 * the same turn (Node runs every immediate queued before the turn's check phase), holding the loop
 * for forty slices. The first job of a turn always runs, so every render goes forward.
 */
const jobs: Job[] = [];
let serving = false;

function serve(): void {
  const deadline = performance.now() + SLICE_MS;
  do jobs.shift()!(deadline);
  while (jobs.length > 0 && performance.now() < deadline);
  if (jobs.length > 0) setImmediate(serve);
  else serving = false;
}

function enqueue(job: Job): void {
  jobs.push(job);
  if (!serving) {
    serving = true;
    setImmediate(serve);
  }
}

/** Resolves in a later turn of the event loop, in line with the renders waiting for theirs. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => enqueue(() => resolve()));
}

/**
 * What renders may do synchronously (runNow) in one turn of the event loop, all together, counted in
 * LiquidJS steps rather than time: a template of a few dozen steps finishes inside its transition
 * however busy the machine is, and one write that settles many attempts still holds the loop for a
 * few milliseconds at most.
 */
export const TURN_STEPS = 5000;
/**
 * Output a turn may keep from renders (transform steps): measuring, redacting and writing it holds
 * the loop too, so a fan-out of large transforms is kept over several turns.
 */
export const TURN_BYTES = 1024 * 1024;
let turnSteps = 0;
let turnBytes = 0;
let turnResetting = false;

/** Starts this turn's allowances afresh once the turn is over. */
function inTurn(): void {
  if (turnResetting) return;
  turnResetting = true;
  setImmediate(() => {
    turnSteps = 0;
    turnBytes = 0;
    turnResetting = false;
  });
}

/**
 * Takes `bytes` of this turn's TURN_BYTES; false when they are not left (the first taker in a turn
 * always gets its share, so nothing waits forever): the caller lets the work wait for a later turn.
 */
export function takeTurnBytes(bytes: number): boolean {
  inTurn();
  if (turnBytes > 0 && turnBytes + bytes > TURN_BYTES) return false;
  turnBytes += bytes;
  return true;
}

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
  /** Generator steps taken so far. */
  #steps = 0;

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
      return this.#stepUntil(start, start + ms, Number.POSITIVE_INFINITY);
    } finally {
      this.#budget.spentMs += performance.now() - start;
    }
  }

  /**
   * Renders synchronously with what is left of this turn's TURN_STEPS (shared by every render); true
   * once finished. A quick template finishes here; a slow one is left for finish().
   */
  runNow(): boolean {
    inTurn();
    const allowed = Math.max(0, TURN_STEPS - turnSteps);
    const start = performance.now();
    const before = this.#steps;
    try {
      return this.#stepUntil(start, Number.POSITIVE_INFINITY, this.#steps + allowed);
    } finally {
      turnSteps += this.#steps - before;
      this.#budget.spentMs += performance.now() - start;
    }
  }

  /** Finishes the render in slices, between which the event loop runs other work; `signal` stops it. */
  finish(signal?: AbortSignal): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const slice: Job = (deadline) => {
        try {
          signal?.throwIfAborted();
          if (this.runFor(Math.max(0, deadline - performance.now()))) resolve(this.#value as T);
          else enqueue(slice);
        } catch (err) {
          reject(err);
        }
      };
      enqueue(slice);
    });
  }

  #stepUntil(start: number, deadline: number, maxSteps: number): boolean {
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
      if (now >= deadline || this.#steps >= maxSteps) return false;
      this.#step();
    }
  }

  #step(): void {
    this.#steps++;
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
