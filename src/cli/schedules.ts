import { type ScheduleView, WorkflowClient } from '../client/workflow-client.ts';
import { clientFlags, clientOptions, parseArgs, splitSubcommand } from './main.ts';

function line(s: ScheduleView): string {
  const state = s.paused ? 'paused' : 'active';
  const next = s.next_fire_time ?? '-';
  const last = s.last_fire
    ? `  last ${s.last_fire.fire_time} ${s.last_fire.status}${s.last_fire.run_id ? ` run ${s.last_fire.run_id}` : ''}`
    : '';
  return `${s.workflow}/${s.trigger}  ${state}  "${s.cron}" ${s.timezone}  next ${next}${last}`;
}

export async function schedulesCommand(args: string[]): Promise<number> {
  const [sub, rest] = splitSubcommand(args);
  const { values, positionals } = parseArgs({
    args: rest,
    strict: true,
    allowPositionals: true,
    options: { ...clientFlags, json: { type: 'boolean' } },
  });
  const client = new WorkflowClient(clientOptions(values));
  switch (sub) {
    case 'ls': {
      const items = await client.listSchedules();
      if (values.json) console.log(JSON.stringify(items, null, 2));
      else for (const s of items) console.log(line(s));
      return 0;
    }
    case 'pause':
    case 'resume': {
      const [workflow, trigger] = positionals;
      if (!workflow || !trigger)
        throw new Error(`schedules ${sub} needs WORKFLOW TRIGGER (the trigger's name or cron)`);
      const s =
        sub === 'pause'
          ? await client.pauseSchedule(workflow, trigger)
          : await client.resumeSchedule(workflow, trigger);
      console.log(values.json ? JSON.stringify(s, null, 2) : line(s));
      return 0;
    }
    default:
      throw new Error('schedules needs one of: ls, pause WORKFLOW TRIGGER, resume WORKFLOW TRIGGER');
  }
}
