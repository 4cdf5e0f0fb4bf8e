/**
 * Schedules: every cron trigger of every registered workflow starts a run at each fire time.
 *
 * A fire is claimed once: the engine that inserts (workflow, trigger, fire time) into the store runs it,
 * and every other engine (a restart, a second server on the same database) finds the row and does
 * nothing. The run is created with an idempotency key derived from the fire, so a claimer that stopped
 * between claim and run leaves a claim the next start completes without a second run.
 *
 * Time comes only from the injected Clock, and croner only computes fire times, so tests drive fires
 * by advancing a ManualClock.
 *
 * On several nodes every one runs the same schedules: a registration, pause or resume on one is announced
 * on the notifier and the others reload from the store (and after a notifier reconnect, and every
 * `refreshEveryMs` regardless, through the Clock).
 *
 * @example
 * const schedules = new Schedules({ store, runs: workflows, clock: realClock, logger, notifier });
 * workflows.onRegistered(() => void schedules.refresh());
 * await schedules.start();
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Notifier } from '../cluster/notifier.ts';
import type { CronTrigger } from '../domain/workflow-definition.ts';
import { AppError } from '../errors.ts';
import type { FireKey, ScheduleKey, ScheduleStore } from '../store/schedule-store.ts';
import type { WorkflowRecord } from '../store/workflow-store.ts';
import type { Logger } from '../workflow/engine-deps.ts';
import type { RunTrigger } from '../workflow/workflow-api.ts';
import type { Clock, TimerHandle } from './clock.ts';
import { CronTimes, DEFAULT_TIMEZONE, scheduleId } from './schedules-cron.ts';

/**
 * A fire handled within this long after its time is on time; one found later was missed (no engine
 * ran, or the process stalled) and follows the trigger's `misfire` policy.
 */
export const ON_TIME_MS = 60_000;

export interface SchedulesDeps {
  store: ScheduleStore & { listWorkflows(): Promise<WorkflowRecord[]> };
  /** Starts runs: the WorkflowService. */
  runs: {
    startRun(
      workflow: string,
      inputs: unknown,
      options: { idempotencyKey: string; trigger: RunTrigger },
    ): Promise<{ run: { id: string } }>;
  };
  clock: Clock;
  logger: Logger & { info(obj: object, msg?: string): void };
  /** The cluster notifier: changes made on one node reach the schedules of every node. */
  notifier?: Notifier;
  /**
   * On several nodes, the floor under notifications: reload this often even if nothing was heard
   * (a lost notice costs at most this delay). Off in one process, where nothing can be missed.
   */
  refreshEveryMs?: number;
}

/** A schedule as GET /v1/schedules shows it. */
export interface ScheduleView {
  workflow: string;
  trigger: string;
  cron: string;
  timezone: string;
  misfire: 'skip' | 'run_once';
  overlap: 'skip' | 'allow';
  paused: boolean;
  /** ISO 8601; null when the expression fires no more. */
  next_fire_time: string | null;
  last_fire: {
    fire_time: string;
    status: 'claimed' | 'started' | 'skipped' | 'failed';
    run_id: string | null;
    reason: string | null;
    /** Started for fire times missed while no engine ran. */
    misfire: boolean;
  } | null;
}

interface Entry extends ScheduleKey {
  trigger: CronTrigger;
  timezone: string;
  times: CronTimes;
  /** Every fire time at or before this (epoch ms) has been dealt with. */
  anchor: number;
  next: number | null;
  timer: TimerHandle | undefined;
}

const iso = (ms: number) => new Date(ms).toISOString();
const keyOf = (workflow: string, id: string) => JSON.stringify([workflow, id]);

/** Idempotency keys are printable ASCII without spaces; a cron expression has spaces, so hash. */
function runKey(fire: FireKey): string {
  const digest = createHash('sha256').update(JSON.stringify([fire.workflow, fire.trigger_id, fire.fire_time]));
  return `schedule:${digest.digest('hex')}`;
}

export class Schedules {
  readonly #deps: SchedulesDeps;
  readonly #entries = new Map<string, Entry>();
  /** Refreshes, fires, and reads run one at a time, in the order they were asked for. */
  #chain: Promise<void> = Promise.resolve();
  #running = false;
  /** Tells this node's announcements from the others'. */
  readonly #node = randomUUID();
  readonly #unsubscribe: Array<() => void> = [];
  #floor: TimerHandle | undefined;

  constructor(deps: SchedulesDeps) {
    this.#deps = deps;
  }

  /** Completes fires a stopped engine claimed but did not start, then loads every schedule. */
  start(): Promise<void> {
    this.#running = true;
    const { notifier } = this.#deps;
    if (notifier) {
      this.#unsubscribe.push(
        notifier.subscribe('schedules', (payload) => {
          if ((payload as { node?: unknown } | null)?.node !== this.#node) this.#reload('announced');
        }),
        notifier.onReconnect(() => this.#reload('reconnect')),
      );
    }
    this.#armFloor();
    return this.#serial(async () => {
      await this.#recover();
      await this.#refresh();
    });
  }

  /** Cancels every timer and waits for a fire in progress. */
  async stop(): Promise<void> {
    this.#running = false;
    for (const off of this.#unsubscribe.splice(0)) off();
    this.#floor?.cancel();
    for (const entry of this.#entries.values()) entry.timer?.cancel();
    this.#entries.clear();
    await this.#chain;
  }

  /**
   * Reloads the definitions: new triggers are scheduled, changed ones rescheduled, removed ones stopped.
   * Call after a registration: the other nodes are told to reload too.
   */
  async refresh(): Promise<void> {
    await this.#serial(() => this.#refresh());
    this.#announce();
  }

  #announce(): void {
    this.#deps.notifier
      ?.publish('schedules', { node: this.#node })
      .catch((err: unknown) => this.#deps.logger.error({ err }, 'schedules: announcing a change failed'));
  }

  /** A reload this node did not ask for: another node changed something, or time to check anyway. */
  #reload(why: string): void {
    this.#serial(() => this.#refresh()).catch((err: unknown) =>
      this.#deps.logger.error({ err, why }, 'schedules: reload failed'),
    );
  }

  #armFloor(): void {
    const { clock, refreshEveryMs } = this.#deps;
    if (!this.#running || refreshEveryMs === undefined) return;
    this.#floor = clock.setTimer(clock.now() + refreshEveryMs, async () => {
      // Awaited, so a ManualClock's advance sees the reload done; the next one is armed regardless.
      await this.#serial(() => this.#refresh()).catch((err: unknown) =>
        this.#deps.logger.error({ err }, 'schedules: periodic reload failed'),
      );
      this.#armFloor();
    });
  }

  list(): Promise<ScheduleView[]> {
    return this.#serial(async () => {
      const views: ScheduleView[] = [];
      const entries = [...this.#entries.values()].sort(
        (a, b) => a.workflow.localeCompare(b.workflow) || a.trigger_id.localeCompare(b.trigger_id),
      );
      for (const entry of entries) views.push(await this.#view(entry));
      return views;
    });
  }

  /** Pauses a schedule (persisted): its fires are not claimed until it is resumed. */
  pause(workflow: string, trigger: string): Promise<ScheduleView> {
    return this.#setPaused(workflow, trigger, true);
  }

  /** Resumes a schedule; fire times that passed while it was paused are not made up. */
  resume(workflow: string, trigger: string): Promise<ScheduleView> {
    return this.#setPaused(workflow, trigger, false);
  }

  #serial<T>(work: () => Promise<T>): Promise<T> {
    const result = this.#chain.then(work);
    this.#chain = result.then(
      () => {},
      () => {},
    );
    return result;
  }

  #setPaused(workflow: string, trigger: string, paused: boolean): Promise<ScheduleView> {
    return this.#serial(async () => {
      const entry = this.#entries.get(keyOf(workflow, trigger));
      if (!entry) {
        const known = [...this.#entries.values()].some((e) => e.workflow === workflow);
        throw known
          ? new AppError('not_found', `workflow "${workflow}" has no schedule "${trigger}"`, { field: 'trigger' })
          : new AppError('not_found', `no schedule of a workflow named "${workflow}"`, { field: 'workflow' });
      }
      const now = this.#deps.clock.now();
      await this.#deps.store.setSchedulePaused(entry, paused, iso(now));
      if (!paused) entry.anchor = Math.max(entry.anchor, now);
      this.#deps.logger.info({ workflow, trigger }, paused ? 'schedule paused' : 'schedule resumed');
      this.#announce();
      return this.#view(entry);
    });
  }

  async #view(entry: Entry): Promise<ScheduleView> {
    const [state, last] = await Promise.all([this.#deps.store.getSchedule(entry), this.#deps.store.lastFire(entry)]);
    return {
      workflow: entry.workflow,
      trigger: entry.trigger_id,
      cron: entry.trigger.cron,
      timezone: entry.timezone,
      misfire: entry.trigger.misfire ?? 'skip',
      overlap: entry.trigger.overlap ?? 'skip',
      paused: state?.paused ?? false,
      next_fire_time: entry.next === null ? null : iso(entry.next),
      last_fire: last
        ? {
            fire_time: last.fire_time,
            status: last.status,
            run_id: last.run_id,
            reason: last.reason,
            misfire: last.misfire,
          }
        : null,
    };
  }

  async #definitions(): Promise<Map<string, { workflow: string; trigger: CronTrigger }>> {
    const wanted = new Map<string, { workflow: string; trigger: CronTrigger }>();
    for (const w of await this.#deps.store.listWorkflows()) {
      for (const trigger of w.definition.triggers ?? []) {
        if ('cron' in trigger) wanted.set(keyOf(w.name, scheduleId(trigger)), { workflow: w.name, trigger });
      }
    }
    return wanted;
  }

  async #refresh(): Promise<void> {
    if (!this.#running) return;
    const wanted = await this.#definitions();
    for (const [key, entry] of this.#entries) {
      if (wanted.has(key)) continue;
      entry.timer?.cancel();
      this.#entries.delete(key);
    }
    // Also those removed while no engine ran: a trigger added back later owes nothing from before.
    for (const state of await this.#deps.store.listSchedules()) {
      if (!wanted.has(keyOf(state.workflow, state.trigger_id))) await this.#deps.store.deleteSchedule(state);
    }
    for (const [key, { workflow, trigger }] of wanted) {
      const timezone = trigger.timezone ?? DEFAULT_TIMEZONE;
      const current = this.#entries.get(key);
      if (current && current.trigger.cron === trigger.cron && current.timezone === timezone) {
        current.trigger = trigger; // inputs, misfire and overlap apply from the next fire
        continue;
      }
      current?.timer?.cancel();
      this.#entries.delete(key);
      let times: CronTimes;
      try {
        times = new CronTimes(trigger.cron, timezone);
      } catch (err) {
        // Only a definition stored before cron triggers were validated can get here.
        this.#deps.logger.warn(
          { err, workflow, trigger: scheduleId(trigger) },
          'schedule: invalid cron, not scheduled',
        );
        continue;
      }
      const now = this.#deps.clock.now();
      const id = { workflow, trigger_id: scheduleId(trigger) };
      const state = await this.#deps.store.upsertSchedule({ ...id, cron: trigger.cron, timezone, at: iso(now) });
      const last = await this.#deps.store.lastFire(id);
      const anchor = Math.max(Date.parse(state.since), last ? Date.parse(last.fire_time) : Number.NEGATIVE_INFINITY);
      const entry: Entry = { ...id, trigger, timezone, times, anchor, next: null, timer: undefined };
      this.#entries.set(key, entry);
      await this.#tick(entry);
    }
  }

  /** Deals with the fire times due since the anchor, then arms the timer for the next one. */
  async #tick(entry: Entry): Promise<void> {
    if (!this.#running || this.#entries.get(keyOf(entry.workflow, entry.trigger_id)) !== entry) return;
    const { clock, store, logger } = this.#deps;
    const now = clock.now();
    const latest = entry.times.latest(now);
    try {
      if (latest !== null && latest > entry.anchor) {
        entry.anchor = now;
        const onTime = now - latest <= ON_TIME_MS;
        const state = await store.getSchedule(entry);
        const where = { workflow: entry.workflow, trigger: entry.trigger_id, fire_time: iso(latest) };
        if (state?.paused) logger.info(where, 'schedule paused: fire not started');
        else if (onTime) await this.#fire(entry, latest, false);
        else if (entry.trigger.misfire === 'run_once') await this.#fire(entry, latest, true);
        else logger.info(where, 'schedule: fire times missed while no engine ran are skipped (misfire: skip)');
      }
    } catch (err) {
      // A store that failed this once must not end the schedule: the next fire is armed regardless.
      logger.error({ err, workflow: entry.workflow, trigger: entry.trigger_id }, 'schedule: fire failed');
    }
    entry.anchor = Math.max(entry.anchor, now);
    if (!this.#running) return;
    entry.next = entry.times.next(now);
    if (entry.next === null) return;
    entry.timer = clock.setTimer(entry.next, () =>
      this.#serial(() => this.#tick(entry)).catch((err: unknown) => logger.error({ err }, 'schedule: tick failed')),
    );
  }

  async #fire(entry: Entry, fireTime: number, misfire: boolean): Promise<void> {
    const fire: FireKey = { workflow: entry.workflow, trigger_id: entry.trigger_id, fire_time: iso(fireTime) };
    const claimed = await this.#deps.store.claimFire({ ...fire, misfire, claimed_at: iso(this.#deps.clock.now()) });
    if (claimed) await this.#settle(fire, entry.trigger);
  }

  /** Starts the claimed fire's run, or records why not; only the claimer (or a later start) gets here. */
  async #settle(fire: FireKey, trigger: CronTrigger): Promise<void> {
    const { store, runs, clock, logger } = this.#deps;
    const at = () => iso(clock.now());
    try {
      if ((trigger.overlap ?? 'skip') === 'skip') {
        const active = await store.activeScheduledRun(fire);
        if (active) {
          const reason = `overlap: run ${active} of this schedule is still running`;
          await store.settleFire(fire, { status: 'skipped', reason }, at());
          logger.info({ ...fire, run_id: active }, 'schedule: fire skipped, the previous run is still running');
          return;
        }
      }
      const { run } = await runs.startRun(fire.workflow, trigger.inputs ?? {}, {
        idempotencyKey: runKey(fire),
        trigger: { kind: 'cron', name: fire.trigger_id, fire_time: fire.fire_time },
      });
      await store.settleFire(fire, { status: 'started', run_id: run.id }, at());
      logger.info({ ...fire, run_id: run.id }, 'schedule: run started');
    } catch (err) {
      logger.warn({ err, ...fire }, 'schedule: the fire could not start a run');
      const reason = err instanceof Error ? err.message : String(err);
      await store.settleFire(fire, { status: 'failed', reason }, at()).catch(() => {});
    }
  }

  /** Claims whose claimer stopped before starting the run: start it now (the idempotency key prevents a twin). */
  async #recover(): Promise<void> {
    const unsettled = await this.#deps.store.listUnsettledFires();
    if (unsettled.length === 0) return;
    const wanted = await this.#definitions();
    for (const fire of unsettled) {
      const current = wanted.get(keyOf(fire.workflow, fire.trigger_id));
      if (current) await this.#settle(fire, current.trigger);
      else {
        const reason = 'the schedule no longer exists';
        await this.#deps.store.settleFire(fire, { status: 'failed', reason }, iso(this.#deps.clock.now()));
      }
    }
  }
}
