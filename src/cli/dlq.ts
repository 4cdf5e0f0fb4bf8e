import { type DlqEntry, WorkflowClient } from '../client/workflow-client.ts';
import { clientFlags, clientOptions, parseArgs, requireId, splitSubcommand } from './main.ts';

export async function dlqCommand(args: string[]): Promise<number> {
  const [sub, rest] = splitSubcommand(args);
  const { values, positionals } = parseArgs({
    args: rest,
    strict: true,
    allowPositionals: true,
    options: {
      ...clientFlags,
      status: { type: 'string' },
      limit: { type: 'string' },
      cursor: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  const client = new WorkflowClient(clientOptions(values));
  const id = () => requireId(positionals, `dlq ${sub}`, 'an entry id');
  switch (sub) {
    case 'ls': {
      const page = await client.listDlq({
        ...(values.status ? { status: values.status as DlqEntry['status'] } : {}),
        ...(values.limit ? { limit: Number(values.limit) } : {}),
        ...(values.cursor ? { cursor: values.cursor } : {}),
      });
      if (values.json) {
        console.log(JSON.stringify(page, null, 2));
        return 0;
      }
      for (const e of page.items) {
        const step = e.item_index === null ? e.step : `${e.step}[${e.item_index}]`;
        const last = e.errors.at(-1);
        const why = last ? `  ${last.kind}: ${last.message.replace(/\s+/g, ' ').slice(0, 80)}` : '';
        console.log(`${e.id}  ${e.status.padEnd(9)}  ${e.workflow}/${step}  run ${e.run_id}  ${e.created_at}${why}`);
      }
      if (page.next_cursor) console.error(`more: --cursor ${page.next_cursor}`);
      return 0;
    }
    case 'show':
      console.log(JSON.stringify(await client.getDlq(id()), null, 2));
      return 0;
    case 'retry': {
      const run = await client.retryDlq(id());
      console.log(`${positionals[0]} retried: run ${run.id} ${run.status}`);
      return 0;
    }
    case 'discard': {
      const entry = await client.discardDlq(id());
      console.log(`${entry.id} ${entry.status}`);
      return 0;
    }
    default:
      throw new Error('dlq needs one of: ls [--status S], show ID, retry ID, discard ID');
  }
}
