import fs from 'node:fs';
import path from 'node:path';
import { type Run, type StepView, WorkflowClient } from '../client/workflow-client.ts';
import { clientFlags, clientOptions, parseArgs } from './main.ts';

/** `--input n=3` is the number 3, `--input topic=rates` the string "rates": JSON when it parses. */
export function parseInputs(pairs: string[], json?: string): Record<string, unknown> {
  let inputs: Record<string, unknown> = {};
  if (json !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(json);
    } catch (err) {
      throw new Error(`--input-json is not valid JSON: ${(err as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new Error('--input-json must be a JSON object of input name → value');
    }
    inputs = { ...(parsed as Record<string, unknown>) };
  }
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`--input ${JSON.stringify(pair)} must be key=value`);
    const raw = pair.slice(eq + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // Not JSON: the text itself.
    }
    inputs[pair.slice(0, eq)] = value;
  }
  return inputs;
}

/** What a "step" event says; the engine's event carries at least the step and its status. */
interface StepEventData {
  step?: string;
  name?: string;
  status?: string;
  item_index?: number | null;
  attempt?: number;
  attempts?: number;
  error?: { kind: string; message: string } | null;
  duration_ms?: number;
  started_at?: string | null;
  finished_at?: string | null;
}

const ms = (from: string | null | undefined, to: string | null | undefined) =>
  from && to ? Math.max(0, Date.parse(to) - Date.parse(from)) : undefined;

function formatDuration(n: number): string {
  return n < 10_000 ? `${n} ms` : `${(n / 1000).toFixed(1)} s`;
}

const oneLine = (text: string, max = 160) => {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
};

/**
 * One progress line per step status change, e.g. `step_1  completed 120 ms` or
 * `step_3  retry_wait attempt 1 failed: http_status …`. Details the event lacks come from `view`.
 */
export function stepLine(data: StepEventData, view?: StepView, width = 0): string | undefined {
  const name = data.step ?? data.name ?? view?.name;
  const status = data.status ?? view?.status;
  if (!name || !status) return undefined;
  const item = data.item_index ?? null;
  const label = (item === null ? name : `${name}[${item}]`).padEnd(width);
  const itemView = item === null ? view : view?.items?.find((i) => i.index === item);
  let detail = '';
  if (status === 'completed') {
    const took =
      data.duration_ms ?? ms(data.started_at, data.finished_at) ?? ms(itemView?.started_at, itemView?.finished_at);
    if (took !== undefined) detail = ` ${formatDuration(took)}`;
  } else if (status === 'retry_wait') {
    const last = itemView?.errors.at(-1);
    const error = data.error ?? last;
    const attempt = data.attempt ?? last?.attempt ?? itemView?.attempts;
    if (error) detail = ` attempt ${attempt ?? '?'} failed: ${error.kind} ${oneLine(error.message)}`;
  } else if (status === 'failed') {
    const error = data.error ?? itemView?.error;
    if (error) detail = ` ${error.kind}: ${oneLine(error.message)}`;
  } else if (status === 'waiting_pool' && view?.pool_usage) {
    detail = ` pool ${view.pool} ${view.pool_usage.running}/${view.pool_usage.capacity} busy`;
  }
  return `${label}  ${status}${detail}`;
}

/** The closing report: the run's outcome and one line per step. */
export function summary(run: Run): string[] {
  const took = ms(run.started_at ?? run.created_at, run.finished_at);
  const lines = [`run ${run.id} ${run.status}${took !== undefined ? ` in ${formatDuration(took)}` : ''}`];
  if (run.error) lines.push(`  ${run.error.kind}: ${oneLine(run.error.message, 400)}`);
  const width = Math.max(...run.steps.map((s) => s.name.length));
  for (const s of run.steps) {
    const t = ms(s.started_at, s.finished_at);
    // A for_each step's attempts are its items'; the item count says more.
    const count = s.items
      ? `${s.items.length} item${s.items.length === 1 ? '' : 's'}`
      : `${s.attempts} attempt${s.attempts === 1 ? '' : 's'}`;
    const parts = [`  ${s.name.padEnd(width)}`, s.status.padEnd(9), count.padEnd(10)];
    if (t !== undefined) parts.push(formatDuration(t));
    if (s.error) parts.push(`${s.error.kind}: ${oneLine(s.error.message)}`);
    lines.push(parts.join('  '));
  }
  return lines;
}

/** Follows a run's events, writing a line per step status change; returns the terminal run. */
export async function followRun(
  client: WorkflowClient,
  run: Run,
  write = (line: string) => process.stderr.write(`${line}\n`),
): Promise<Run> {
  const width = Math.max(0, ...run.steps.map((s) => s.name.length));
  const last = new Map<string, string>();
  try {
    for await (const event of client.runEvents(run.id)) {
      if (event.type !== 'step') continue;
      const data = (event.data ?? {}) as StepEventData;
      const name = data.step ?? data.name;
      const needsView = data.status !== 'running' && data.status !== 'queued' && data.status !== 'pending';
      const view = needsView && name ? (await client.getRun(run.id)).steps.find((s) => s.name === name) : undefined;
      const line = stepLine(data, view, width);
      const key = `${name}[${data.item_index ?? ''}]`;
      if (!line || last.get(key) === line) continue;
      last.set(key, line);
      write(line);
      if (data.status === 'awaiting_approval') {
        write(`${' '.repeat(width)}  approve: switchyard runs approve ${run.id} ${name} (or reject)`);
      }
    }
  } catch (err) {
    // The stream broke (server restart, proxy): the long-poll below still finds the outcome.
    write(`(event stream ended: ${(err as Error).message})`);
  }
  return client.waitRun(run.id);
}

export async function runCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: {
      ...clientFlags,
      input: { type: 'string', multiple: true },
      'input-json': { type: 'string' },
      'idempotency-key': { type: 'string' },
      wait: { type: 'boolean' },
      json: { type: 'boolean' },
    },
  });
  const target = positionals[0];
  if (!target || positionals.length > 1) {
    throw new Error('usage: switchyard run FILE|NAME [--input k=v …] [--input-json JSON] [--wait] [--json]');
  }
  const inputs = parseInputs(values.input ?? [], values['input-json']);
  const client = new WorkflowClient(clientOptions(values));
  let name = target;
  if (fs.statSync(target, { throwIfNoEntry: false })?.isFile()) {
    const summary = await client.registerWorkflow(fs.readFileSync(target, 'utf8'), { filename: path.basename(target) });
    name = summary.name;
    if (!values.json) console.error(`workflow ${summary.name} v${summary.version} registered from ${target}`);
  } else if (/\.(ya?ml|json)$/i.test(target)) {
    throw new Error(`${target}: no such file`);
  }
  const key = values['idempotency-key'];
  const run = await client.startRun(name, inputs, key ? { idempotencyKey: key } : {});
  if (!values.wait) {
    if (values.json) console.log(JSON.stringify(run, null, 2));
    else console.log(`${run.id} ${run.status}`);
    return 0;
  }
  if (!values.json) console.error(`run ${run.id} ${run.status}`);
  const done = values.json ? await client.waitRun(run.id) : await followRun(client, run);
  if (values.json) console.log(JSON.stringify(done, null, 2));
  else for (const line of summary(done)) console.log(line);
  return done.status === 'completed' ? 0 : 1;
}
