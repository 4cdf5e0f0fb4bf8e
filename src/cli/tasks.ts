import { SwitchyardClient } from '../client/client.ts';
import { clientFlags, clientOptions, parseArgs, requireId, splitSubcommand } from './main.ts';

export async function tasksCommand(args: string[]): Promise<number> {
  const [sub, rest] = splitSubcommand(args);
  const { values, positionals } = parseArgs({
    args: rest,
    strict: true,
    allowPositionals: true,
    options: { ...clientFlags, status: { type: 'string' }, limit: { type: 'string' }, timeout: { type: 'string' } },
  });
  const client = new SwitchyardClient(clientOptions(values));
  const id = () => requireId(positionals, `tasks ${sub}`, 'a task id');
  switch (sub) {
    case 'ls': {
      const page = await client.list({
        ...(values.status ? { status: values.status } : {}),
        ...(values.limit ? { limit: Number(values.limit) } : {}),
      });
      for (const t of page.items) {
        console.log(`${t.id}  ${t.status.padEnd(9)}  ${t.created_at}  ${String(t.request.prompt ?? '').slice(0, 60)}`);
      }
      return 0;
    }
    case 'show':
      console.log(JSON.stringify(await client.get(id()), null, 2));
      return 0;
    case 'cancel': {
      const task = await client.cancel(id());
      console.log(`${task.id} ${task.status}${task.error ? ` (${task.error.kind})` : ''}`);
      return 0;
    }
    case 'wait': {
      const timeout = values.timeout ? Number(values.timeout) : undefined;
      const task = await client.wait(id(), timeout);
      console.log(JSON.stringify(task, null, 2));
      return task.status === 'completed' ? 0 : 1;
    }
    default:
      throw new Error('tasks needs one of: ls, show ID, cancel ID, wait ID');
  }
}
