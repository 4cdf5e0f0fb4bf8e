import { type RunStatus, WorkflowClient } from '../client/workflow-client.ts';
import { clientFlags, clientOptions, parseArgs, requireId, splitSubcommand } from './main.ts';
import { summary } from './run.ts';

export async function runsCommand(args: string[]): Promise<number> {
  // `switchyard runs --status failed` lists, like `runs ls --status failed`.
  const [sub, rest] = splitSubcommand(args);
  const { values, positionals } = parseArgs({
    args: rest,
    strict: true,
    allowPositionals: true,
    options: {
      ...clientFlags,
      workflow: { type: 'string' },
      status: { type: 'string' },
      limit: { type: 'string' },
      cursor: { type: 'string' },
      step: { type: 'string' },
      comment: { type: 'string' },
      timeout: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  const client = new WorkflowClient(clientOptions(values));
  const brief = (run: { id: string; status: string; error: { kind: string } | null }) =>
    console.log(`${run.id} ${run.status}${run.error ? ` (${run.error.kind})` : ''}`);
  const id = () => requireId(positionals, `runs ${sub}`, 'a run id');
  switch (sub) {
    case 'ls': {
      const page = await client.listRuns({
        ...(values.workflow ? { workflow: values.workflow } : {}),
        ...(values.status ? { status: values.status as RunStatus } : {}),
        ...(values.limit ? { limit: Number(values.limit) } : {}),
        ...(values.cursor ? { cursor: values.cursor } : {}),
      });
      if (values.json) {
        console.log(JSON.stringify(page, null, 2));
        return 0;
      }
      for (const r of page.items) {
        console.log(
          `${r.id}  ${r.workflow}  ${r.status.padEnd(9)}  ${r.created_at}${r.error ? `  ${r.error.kind}` : ''}`,
        );
      }
      if (page.next_cursor) console.error(`more: --cursor ${page.next_cursor}`);
      return 0;
    }
    case 'show': {
      const run = await client.getRun(id());
      if (values.json) console.log(JSON.stringify(run, null, 2));
      else for (const line of summary(run)) console.log(line);
      return 0;
    }
    case 'wait': {
      const run = await client.waitRun(id(), values.timeout ? Number(values.timeout) : undefined);
      if (values.json) console.log(JSON.stringify(run, null, 2));
      else for (const line of summary(run)) console.log(line);
      return run.status === 'completed' ? 0 : 1;
    }
    case 'cancel':
      brief(await client.cancelRun(id()));
      return 0;
    case 'rerun':
      brief(await client.rerun(id(), values.step));
      return 0;
    case 'approve':
    case 'reject': {
      const step = positionals[1];
      if (!step) throw new Error(`runs ${sub} needs a run id and a step name`);
      const run =
        sub === 'approve'
          ? await client.approve(id(), step, values.comment)
          : await client.reject(id(), step, values.comment);
      brief(run);
      return 0;
    }
    default:
      throw new Error(
        'runs needs one of: ls, show ID, wait ID, cancel ID, rerun ID [--step S], approve|reject ID STEP',
      );
  }
}
