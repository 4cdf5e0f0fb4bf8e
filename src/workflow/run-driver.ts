/**
 * Runs driven by one worker at a time, cluster-wide (docs/cluster.md, Runs), on either store.
 *
 * A run is driven while a `run` job keyed by its id is held: the queue driver hands one such job to one
 * handler at a time. The handler adopts the run (adoption + 1 in the store: the fence of every later
 * transition, so a worker another has taken the run from writes nothing), resumes it (RunControl), and
 * holds the job until the run ends or can only wait for a person (an approval with nothing else in
 * flight): then it parks the run (parked_until = the earliest approval deadline) and lets go. A wake
 * timer, and on every node a sweep of the store, send the job again when a parked run's time comes or
 * when a run has nobody (a clean stop handed it back, an api node died between creating it and sending).
 *
 * People's actions (cancel, approve/reject, rerun, redrive, discard) from any node: the holder, if it
 * is this process, acts as before; otherwise the action is written as a run command, announced, and a
 * job is sent so some worker takes the run; the holder applies the run's commands in order and records
 * each outcome, which the acting node waits for and answers with (the same view or error).
 */
import { randomUUID } from 'node:crypto';
import type { Notifier } from '../cluster/notifier.ts';
import type { QueueDriver, QueueJob } from '../cluster/queue-driver.ts';
import { AppError, isErrorKind, toErrorInfo } from '../errors.ts';
import { NEVER } from '../store/run-cluster-rows.ts';
import type { RunAction, RunCommandOutcome } from '../store/run-cluster-store.ts';
import { POOL_RELEASED } from './cluster-pools.ts';
import type { OrchestratorDeps } from './engine-deps.ts';
import { RunControl } from './run-control.ts';
import { type ActiveRun, IN_FLIGHT, loadRun, stepDef, type Transition, units } from './run-state.ts';

/** Channel of "run R has a new command" (payload `{ run }`). */
export const RUN_COMMANDS = 'run_commands';
/** Channel of "command C has its outcome" (payload `{ id }`). */
export const RUN_COMMAND_DONE = 'run_command_done';

/** How often a holder looks for commands it was not told of (a notice lost while the notifier reconnected). */
const HOLDER_POLL_MS = 1_000;
/** How often an acting node reads whether its command has an outcome, besides being told. */
const COMMAND_POLL_MS = 250;
/** How often every node looks for runs nobody drives (parked ones whose time came, handed-back ones). */
const SWEEP_MS = 5_000;
/** How long an acting node waits for the holder's outcome before answering 503. */
const COMMAND_WAIT_MS = 10_000;
/** How long a worker's startRun waits for its own process to take the new run up (runCreated). */
const TAKE_UP_WAIT_MS = 2_000;
/** setTimeout's ceiling: a later wake is left to the sweep. */
const MAX_TIMER_MS = 2_147_483_647;

const TERMINAL = new Set(['completed', 'failed']);

export interface RunDriverOptions {
  queue: QueueDriver;
  notifier: Notifier;
  /** Whether this process takes `run` jobs (roles worker and all); an api node only sends them. */
  worker: boolean;
  /**
   * Run jobs this process holds at once: a held run mostly waits on its steps, which pools limit; more
   * runs wait in the queue. pg-boss runs one polling loop per handler, so a shared queue wants few.
   */
  handlers: number;
}

/** This process's hold on a run: its adoption, and one chain that orders everything done to it here. */
interface Hold {
  adoption: number;
  chain: Promise<unknown>;
  ended: boolean;
  checkQueued: boolean;
  end: (err?: Error) => void;
  off: () => void;
}

const ENDED = Symbol('hold ended');

export class RunDriver extends RunControl {
  readonly #queue: QueueDriver;
  readonly #notifier: Notifier;
  readonly #worker: boolean;
  readonly #handlers: number;
  readonly #holds = new Map<string, Hold>();
  readonly #wakeTimers = new Map<string, NodeJS.Timeout>();
  /** Runs created here whose creator waits for this process to take them up (runCreated). */
  readonly #takenUp = new Map<string, () => void>();
  readonly #timers: NodeJS.Timeout[] = [];
  #unsubscribe: () => void = () => undefined;
  #closing = false;

  constructor(deps: OrchestratorDeps, options: RunDriverOptions) {
    super(deps);
    this.#queue = options.queue;
    this.#notifier = options.notifier;
    this.#worker = options.worker;
    this.#handlers = options.handlers;
  }

  /** Takes run jobs (workers), and sends one for every run that may have nobody driving it. */
  async start(): Promise<void> {
    if (this.#worker) {
      await this.#queue.work('run', { concurrency: this.#handlers }, (job) => this.#drive(job));
      this.#unsubscribe = this.#notifier.subscribe(RUN_COMMANDS, (payload) => {
        const run = (payload as { run?: unknown } | null)?.run;
        if (typeof run === 'string') this.#applyCommandsOf(run);
      });
      this.#timers.push(
        setInterval(() => {
          for (const id of this.#holds.keys()) this.#applyCommandsOf(id);
        }, HOLDER_POLL_MS).unref(),
      );
    }
    // At start, runs whose holders may have died too (on the embedded store: every run this process
    // held before it stopped); afterwards only those nobody holds.
    await this.#wake(true);
    this.#timers.push(setInterval(() => void this.#wake(false), SWEEP_MS).unref());
  }

  /**
   * A run was just created: some worker takes it on. When that is this process, this resolves once the
   * run's first transition is written (its quick steps done, its first waits reached), so the caller
   * answers with the run as it stands; after TAKE_UP_WAIT_MS (another worker took it) as it is.
   */
  async runCreated(id: string): Promise<void> {
    if (!this.#worker) return this.#queue.send('run', id, { key: id });
    let done = () => {};
    const takenUp = new Promise<void>((resolve) => {
      done = resolve;
    });
    const timer = setTimeout(done, TAKE_UP_WAIT_MS);
    this.#takenUp.set(id, done);
    try {
      await this.#queue.send('run', id, { key: id });
      await takenUp;
    } finally {
      clearTimeout(timer);
      this.#takenUp.delete(id);
    }
  }

  override async stop(graceMs: number): Promise<void> {
    this.#closing = true;
    this.#unsubscribe();
    for (const timer of this.#timers) clearInterval(timer);
    for (const timer of this.#wakeTimers.values()) clearTimeout(timer);
    this.#wakeTimers.clear();
    // Running steps finish or are interrupted; the runs still in flight are set down (holders 0).
    await super.stop(graceMs);
    // Their jobs are handed back: another worker takes them on (the next start, on the embedded store).
    for (const id of [...this.#holds.keys()]) this.#endHold(id, new Error('the engine stopped: run handed back'));
  }

  /**
   * A person's action on a run. If this process holds the run, it is done here as before; otherwise it
   * becomes a run command for whoever holds (or next takes) the run, and this waits for its outcome.
   */
  async act(runId: string, action: RunAction): Promise<void> {
    const hold = this.#holds.get(runId);
    if (hold && (await this.#onHold(hold, () => this.#perform(runId, action))) !== ENDED) return;
    const record = await this.deps.store.getRun(runId);
    if (!record) throw new AppError('not_found', `no run with id ${JSON.stringify(runId)}`, { field: 'id' });
    // What a holder would answer for a run that is over, without making a worker take it on for that.
    if (TERMINAL.has(record.status) && action.kind === 'cancel') return;
    if (TERMINAL.has(record.status) && action.kind === 'decide') {
      throw new AppError('conflict', `step "${action.step}" of run ${runId} is not awaiting approval`, {
        field: 'step',
      });
    }
    const id = randomUUID();
    const outcome = this.#outcome(id);
    try {
      await this.deps.store.addRunCommand({ id, run_id: runId, action, created_at: new Date().toISOString() });
      await this.#notifier.publish(RUN_COMMANDS, { run: runId }).catch(() => undefined);
      await this.#queue.send('run', runId, { key: runId });
    } catch (err) {
      outcome.cancel();
      throw err;
    }
    const result = await outcome.promise;
    if (!result.ok) {
      const { kind, message, field } = result.error;
      throw new AppError(isErrorKind(kind) ? kind : 'internal', message, field === undefined ? {} : { field });
    }
  }

  protected override fenceOf(id: string): number | undefined {
    return this.#holds.get(id)?.adoption;
  }

  protected override committed(tx: Transition): void {
    for (const run of tx.runs) this.#check(run.record.id);
  }

  protected override lostRun(runId: string): void {
    super.lostRun(runId);
    // Done, not handed back: the run's job is the new holder's now.
    this.#endHold(runId);
  }

  /** The `run` job handler: adopt, resume, apply commands, and hold until the run ends or parks. */
  async #drive(job: QueueJob): Promise<void> {
    const id = job.id;
    if (this.#closing) throw new Error('the engine is stopping');
    if (this.#holds.has(id)) return;
    const before = await this.deps.store.getRun(id);
    if (!before) return;
    if (TERMINAL.has(before.status) && (await this.deps.store.pendingRunCommands(id)).length === 0) return;
    const adopted = await this.deps.store.adoptRun(id);
    if (!adopted) return;
    let end: (err?: Error) => void = () => undefined;
    const held = new Promise<void>((resolve, reject) => {
      end = (err) => (err ? reject(err) : resolve());
    });
    const hold: Hold = {
      adoption: adopted.adoption,
      chain: Promise.resolve(),
      ended: false,
      checkQueued: false,
      end,
      off: () => undefined,
    };
    this.#holds.set(id, hold);
    // A run failed by the engine ends outside any transition of ours (failRun writes it): hear of it.
    hold.off = this.onTerminal(id, () => this.#check(id));
    const onAbort = () => {
      // The lease is lost or the process is stopping: whatever runs here for it stops, unwritten.
      if (this.#closing) return;
      this.lostRun(id);
      this.#endHold(id, new Error(`run ${id}: its job was taken back`));
    };
    job.signal.addEventListener('abort', onAbort, { once: true });
    await this.#onHold(hold, async () => {
      // Slots a dead predecessor held for this run's steps go back first (its steps run again here).
      for (const pool of new Set(await this.deps.store.dropRunPoolHolds(id))) {
        await this.#notifier.publish(POOL_RELEASED, { pool }).catch(() => undefined);
      }
      // Read after the adoption: whatever the previous holder wrote before it is in; nothing after is.
      const record = await this.deps.store.getRun(id);
      if (record && !TERMINAL.has(record.status)) {
        const run = loadRun({ ...record, holders: adopted.holders }, await this.deps.store.getSteps(id));
        run.fence = adopted.adoption;
        await this.resumeRun(run);
      }
      await this.#applyCommands(id);
    });
    this.#takenUp.get(id)?.();
    this.#check(id);
    try {
      await held;
    } finally {
      job.signal.removeEventListener('abort', onAbort);
    }
  }

  /** Runs `work` in the hold's order; ENDED when the hold was let go first (the caller goes another way). */
  #onHold<T>(hold: Hold, work: () => Promise<T>): Promise<T | typeof ENDED> {
    const result = hold.chain.then((): Promise<T | typeof ENDED> => (hold.ended ? Promise.resolve(ENDED) : work()));
    hold.chain = result.catch(() => undefined);
    return result;
  }

  /** Looks, in the hold's order, whether the run can be let go (ended, or only waiting for a person). */
  #check(id: string): void {
    const hold = this.#holds.get(id);
    if (!hold || hold.checkQueued || hold.ended) return;
    hold.checkQueued = true;
    void this.#onHold(hold, async () => {
      hold.checkQueued = false;
      await this.#maybeLetGo(id, hold);
    }).catch((err: unknown) => this.deps.logger.error({ err, run: id }, 'workflow engine: letting a run go failed'));
  }

  async #maybeLetGo(id: string, hold: Hold): Promise<void> {
    const run = this.active.get(id);
    if (!run) {
      // Over (or a finished run whose commands did not start it again): once its end is written.
      await this.settledWrites();
      if (!this.active.has(id)) this.#endHold(id);
      return;
    }
    if (this.#closing) return;
    const parkedUntil = this.#parkedUntil(run);
    if (parkedUntil === undefined) return;
    this.active.delete(id);
    for (const unit of units(run)) this.clearTimer(unit);
    let released = false;
    try {
      released = await this.deps.store.releaseRun(id, hold.adoption, parkedUntil);
    } catch (err) {
      // Not parked in the store: the job goes back and the run is taken on again.
      this.#endHold(id, err instanceof Error ? err : new Error(String(err)));
      return;
    }
    this.#endHold(id);
    if (released && parkedUntil !== NEVER) this.#wakeAt(id, Date.parse(parkedUntil));
  }

  /**
   * When a run can be parked: nothing of it runs, waits for a slot or a retry here, no step is ready to
   * start, and some step awaits a person. Returns the time it must be taken on again (the earliest
   * approval deadline, or NEVER), or undefined while it cannot be parked.
   */
  #parkedUntil(run: ActiveRun): string | undefined {
    if (this.attemptsRunning(run)) return undefined;
    let awaiting = false;
    let wake = Number.POSITIVE_INFINITY;
    for (const unit of units(run)) {
      if (IN_FLIGHT.has(unit.status)) return undefined;
      const def = stepDef(run, unit.name);
      if (unit.status === 'pending' && def.depends_on.every((d) => run.steps.get(d)?.status === 'completed')) {
        return undefined;
      }
      if (unit.status === 'awaiting_approval') {
        awaiting = true;
        if (def.worker === 'approval' && def.timeout !== undefined) {
          wake = Math.min(wake, Date.parse(unit.started_at ?? '') + def.timeout);
        }
      }
    }
    // A deadline already passed: its timer rejects the approval here, now.
    if (!awaiting || wake <= Date.now()) return undefined;
    return Number.isFinite(wake) ? new Date(wake).toISOString() : NEVER;
  }

  #endHold(id: string, err?: Error): void {
    const hold = this.#holds.get(id);
    if (!hold || hold.ended) return;
    hold.ended = true;
    this.#holds.delete(id);
    hold.off();
    hold.end(err);
  }

  /** Sends the run's job when a parked run's deadline comes (the sweep does it if this process is gone). */
  #wakeAt(id: string, at: number): void {
    const delay = at - Date.now();
    if (delay > MAX_TIMER_MS) return;
    clearTimeout(this.#wakeTimers.get(id));
    const timer = setTimeout(
      () => {
        this.#wakeTimers.delete(id);
        if (!this.#closing) void this.#queue.send('run', id, { key: id }).catch(() => undefined);
      },
      Math.max(0, delay),
    );
    timer.unref();
    this.#wakeTimers.set(id, timer);
  }

  async #wake(held: boolean): Promise<void> {
    if (this.#closing) return;
    try {
      for (const id of await this.deps.store.listRunsToWake(new Date().toISOString(), { held })) {
        await this.#queue.send('run', id, { key: id });
      }
    } catch (err) {
      this.deps.logger.warn({ err }, 'workflow engine: looking for runs nobody drives failed');
    }
  }

  #applyCommandsOf(id: string): void {
    const hold = this.#holds.get(id);
    if (hold) void this.#onHold(hold, () => this.#applyCommands(id)).catch(() => undefined);
  }

  /** Applies the run's pending commands in order and records each outcome (call on the hold's chain). */
  async #applyCommands(id: string): Promise<void> {
    for (const command of await this.deps.store.pendingRunCommands(id)) {
      let outcome: RunCommandOutcome;
      try {
        await this.#perform(id, command.action);
        outcome = { ok: true };
      } catch (err) {
        const info = toErrorInfo(err);
        if (!(err instanceof AppError))
          this.deps.logger.error({ err, run: id }, 'workflow engine: a run command failed');
        const error = { kind: info.kind, message: info.message };
        outcome = { ok: false, error: info.field === undefined ? error : { ...error, field: info.field } };
      }
      await this.deps.store.finishRunCommand(command.id, outcome, new Date().toISOString());
      await this.#notifier.publish(RUN_COMMAND_DONE, { id: command.id }).catch(() => undefined);
    }
    this.#check(id);
  }

  /** One action, through RunControl's own methods: the same checks and answers wherever it came from. */
  async #perform(runId: string, action: RunAction): Promise<void> {
    switch (action.kind) {
      case 'cancel':
        return this.cancel(runId);
      case 'decide':
        return this.decide(runId, action.step, {
          approved: action.approved,
          ...(action.comment === undefined ? {} : { comment: action.comment }),
        });
      case 'rerun':
        return this.rerun(runId, action.step);
      case 'redrive':
      case 'discard': {
        const entry = await this.deps.store.getDlq(action.entry);
        if (entry && entry.run_id !== runId) {
          throw new AppError('conflict', `DLQ entry ${entry.id} is not of run ${runId}`, { field: 'id' });
        }
        return action.kind === 'redrive' ? this.redrive(action.entry) : this.discard(action.entry);
      }
    }
  }

  /** The outcome of command `id`, when the holder records it (told, or found by polling), or a 503. */
  #outcome(id: string): { promise: Promise<RunCommandOutcome>; cancel: () => void } {
    let stop = () => {};
    const promise = new Promise<RunCommandOutcome>((resolve, reject) => {
      let reading = false;
      const look = async () => {
        if (reading) return;
        reading = true;
        try {
          const command = await this.deps.store.getRunCommand(id);
          if (command?.status === 'done' && command.outcome) {
            stop();
            resolve(command.outcome);
          }
        } catch {
          // The next look tries again.
        } finally {
          reading = false;
        }
      };
      const off = this.#notifier.subscribe(RUN_COMMAND_DONE, (payload) => {
        if ((payload as { id?: unknown } | null)?.id === id) void look();
      });
      const poll = setInterval(() => void look(), COMMAND_POLL_MS);
      const timeout = setTimeout(() => {
        stop();
        reject(
          new AppError(
            'overloaded',
            `no worker took the run's action on within ${COMMAND_WAIT_MS / 1000} s; it stays queued and is applied ` +
              'when a worker takes the run',
          ),
        );
      }, COMMAND_WAIT_MS);
      stop = () => {
        off();
        clearInterval(poll);
        clearTimeout(timeout);
      };
    });
    return { promise, cancel: () => stop() };
  }
}
