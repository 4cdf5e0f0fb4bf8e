import fs from 'node:fs';
import path from 'node:path';
import { WorkflowClient } from '../client/workflow-client.ts';
import { workflowJsonSchema } from '../workflow/definition.ts';
import { clientFlags, clientOptions, parseArgs } from './main.ts';

export async function workflowsCommand(args: string[]): Promise<number> {
  const [sub = 'ls', ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    strict: true,
    allowPositionals: true,
    options: { ...clientFlags, json: { type: 'boolean' } },
  });
  const client = new WorkflowClient(clientOptions(values));
  const arg = (what: string) => {
    if (!positionals[0]) throw new Error(`workflows ${sub} needs ${what}`);
    return positionals[0];
  };
  switch (sub) {
    case 'ls': {
      const items = await client.listWorkflows();
      if (values.json) console.log(JSON.stringify(items, null, 2));
      for (const w of values.json ? [] : items) {
        const n = Object.keys(w.definition.steps).length;
        console.log(`${w.name}  v${w.version}  ${n} step${n === 1 ? '' : 's'}  ${w.updated_at}  ${w.source}`);
      }
      return 0;
    }
    case 'show':
      console.log(JSON.stringify(await client.getWorkflow(arg('a workflow name')), null, 2));
      return 0;
    case 'register': {
      const file = arg('a FILE');
      const w = await client.registerWorkflow(fs.readFileSync(file, 'utf8'), { filename: path.basename(file) });
      if (values.json) console.log(JSON.stringify(w, null, 2));
      else console.log(`registered ${w.name} v${w.version} (${Object.keys(w.definition.steps).length} steps)`);
      return 0;
    }
    case 'schema':
      // The same schema the server publishes at /v1/workflows/schema.json; no server needed.
      console.log(JSON.stringify(workflowJsonSchema(), null, 2));
      return 0;
    default:
      throw new Error('workflows needs one of: ls, show NAME, register FILE, schema');
  }
}
