import { SwitchyardClient, type TaskRequest } from '../client/client.ts';
import { clientFlags, clientOptions, parseArgs } from './main.ts';
import { printEvent } from './progress.ts';

/** Splits "Read,Edit(docs/**),Bash(git diff *)" on the commas outside parentheses. */
export function splitTools(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(current.trim());
      current = '';
    } else current += ch;
  }
  if (current.trim()) out.push(current.trim());
  return out.filter(Boolean);
}

export async function execCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: {
      ...clientFlags,
      tools: { type: 'string' },
      cwd: { type: 'string' },
      timeout: { type: 'string' },
      model: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  const prompt = positionals.join(' ');
  if (!prompt) throw new Error('a prompt is required: switchyard exec "prompt" --tools Read,Grep');
  const request: TaskRequest = { prompt, allowed_tools: values.tools ? splitTools(values.tools) : [] };
  if (values.cwd) request.cwd = values.cwd;
  if (values.timeout) request.timeout = Number(values.timeout);
  if (values.model) request.model = values.model;
  const client = new SwitchyardClient(clientOptions(values));
  const task = await client.submit(request);
  if (!values.json) console.error(`task ${task.id} ${task.status}`);
  if (!values.json) {
    for await (const event of client.events(task.id)) printEvent(event);
  }
  const done = await client.wait(task.id);
  if (values.json) console.log(JSON.stringify(done, null, 2));
  else if (done.status === 'completed') console.log(done.response ?? '');
  else console.error(`failed (${done.error?.kind}): ${done.error?.message}`);
  return done.status === 'completed' ? 0 : 1;
}
