/**
 * The cron seam: croner computes fire times and nothing else (its own timers are never started), so an
 * injected clock decides when a fire happens. Also the registration-time checks of a cron trigger.
 */
import { Cron } from 'croner';
import type { CronTrigger } from '../domain/workflow-definition.ts';

/** Without a zone croner would use the server's local time; a schedule must not depend on the host. */
export const DEFAULT_TIMEZONE = 'UTC';

/** How a workflow's cron trigger is named in URLs, claims and run records: its `name`, else its expression. */
export function scheduleId(trigger: CronTrigger): string {
  return trigger.name ?? trigger.cron;
}

/** A cron expression in a time zone, answering "next fire after" and "latest fire at or before". */
export class CronTimes {
  readonly #cron: Cron;

  constructor(expression: string, timezone = DEFAULT_TIMEZONE) {
    // `paused` and no callback: croner never arms a timer of its own.
    this.#cron = new Cron(expression, { timezone, mode: '5-or-6-parts', paused: true });
  }

  /** The first fire strictly after `after` (epoch ms), or null when there is none. */
  next(after: number): number | null {
    return this.#cron.nextRun(new Date(after))?.getTime() ?? null;
  }

  /** The latest fire at or before `at` (epoch ms), or null. */
  latest(at: number): number | null {
    // previousRuns excludes a run exactly at the reference, so look from just after it and drop
    // anything later than `at` (fire times are whole seconds; `at + 1` may share its second).
    for (const d of this.#cron.previousRuns(2, new Date(at + 1))) {
      if (d.getTime() <= at) return d.getTime();
    }
    return null;
  }
}

/** A time zone is an IANA name (Europe/Berlin, UTC), not an offset such as +01:00. */
export function timezoneProblem(timezone: string): string | undefined {
  const known = /^[A-Za-z][A-Za-z0-9_+\-/]*$/.test(timezone) && isIntlZone(timezone);
  return known ? undefined : `"${timezone}" is not a known IANA time zone (e.g. Europe/Berlin, America/New_York, UTC)`;
}

function isIntlZone(timezone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: timezone });
    return true;
  } catch {
    return false;
  }
}

/** What is wrong with a cron trigger's expression or zone (the key and the rule), or undefined. */
export function cronTriggerProblem(trigger: CronTrigger, now = Date.now()): { key: string; rule: string } | undefined {
  if (trigger.timezone !== undefined) {
    const rule = timezoneProblem(trigger.timezone);
    if (rule) return { key: 'timezone', rule };
  }
  let cron: Cron;
  try {
    cron = new Cron(trigger.cron, {
      timezone: trigger.timezone ?? DEFAULT_TIMEZONE,
      mode: '5-or-6-parts',
      paused: true,
    });
  } catch (err) {
    const detail = (err as Error).message.replace(/^CronPattern:\s*/, '');
    return { key: 'cron', rule: `is not a valid cron expression (minute hour day month weekday): ${detail}` };
  }
  // croner reads an ISO date as a one-off time; a trigger is a repeating schedule.
  if (cron.getOnce() !== null) return { key: 'cron', rule: 'must be a cron expression, not a date' };
  if (cron.nextRun(new Date(now)) === null) return { key: 'cron', rule: 'never fires' };
  return undefined;
}
