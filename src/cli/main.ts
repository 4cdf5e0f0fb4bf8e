#!/usr/bin/env node
/** `switchyard <verb>`: serve, exec, tasks. Exits non-zero on failure, with the reason on stderr. */
import { parseArgs } from 'node:util';
import { AppError } from '../errors.ts';
import { dlqCommand } from './dlq.ts';
import { execCommand } from './exec.ts';
import { runCommand } from './run.ts';
import { runsCommand } from './runs.ts';
import { schedulesCommand } from './schedules.ts';
import { serveCommand } from './serve.ts';
import { tasksCommand } from './tasks.ts';
import { validateCommand } from './validate.ts';
import { workflowsCommand } from './workflows.ts';

const USAGE = `usage: switchyard <command> [options]

  serve [--port N] [--host H] [--data-dir D] [--demo] [--role api|worker|all]
                                                        start the server (flags mirror SWITCHYARD_* variables)
  exec "prompt" [--tools Read,Grep] [--cwd DIR] [--timeout MS] [--json]
                                                        run one task, streaming its progress
  tasks ls [--status S] [--limit N] | show ID | cancel ID | wait ID

  validate FILE…                                        check workflow files locally (no server)
  workflows ls | show NAME | register FILE | schema
  run FILE|NAME [--input k=v …] [--input-json '{…}'] [--wait] [--json]
                                                        start a run (registering FILE first); --wait follows
                                                        its steps and exits non-zero if it fails
  runs [ls] [--workflow W] [--status S] | show ID | wait ID | cancel ID | rerun ID [--step S]
       | approve ID STEP [--comment C] | reject ID STEP [--comment C]
  dlq [ls] [--status open|retried|discarded] | show ID | retry ID | discard ID
  schedules [ls] | pause WORKFLOW TRIGGER | resume WORKFLOW TRIGGER
                                                        cron triggers; TRIGGER is the trigger's name or its cron

  Client commands talk to --url (SWITCHYARD_URL, default http://127.0.0.1:7847) with --api-key (SWITCHYARD_API_KEY).`;

const COMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  serve: serveCommand,
  exec: execCommand,
  tasks: tasksCommand,
  validate: validateCommand,
  workflows: workflowsCommand,
  run: runCommand,
  runs: runsCommand,
  dlq: dlqCommand,
  schedules: schedulesCommand,
};

export async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (!verb || verb === '--help' || verb === '-h' || verb === 'help') {
    console.log(USAGE);
    return verb ? 0 : 2;
  }
  const command = COMMANDS[verb];
  if (!command) {
    console.error(`switchyard: unknown command ${JSON.stringify(verb)}\n\n${USAGE}`);
    return 2;
  }
  try {
    return await command(rest);
  } catch (err) {
    const message = err instanceof AppError || err instanceof Error ? err.message : String(err);
    console.error(`switchyard ${verb}: ${message}`);
    return err instanceof TypeError && /parseArgs|option/i.test(message) ? 2 : 1;
  }
}

/** Shared by client commands. */
export function clientOptions(values: { url?: string | undefined; 'api-key'?: string | undefined }) {
  const apiKey = values['api-key'] ?? process.env.SWITCHYARD_API_KEY;
  return {
    baseUrl: values.url ?? process.env.SWITCHYARD_URL ?? 'http://127.0.0.1:7847',
    ...(apiKey ? { apiKey } : {}),
  };
}

export const clientFlags = {
  url: { type: 'string' },
  'api-key': { type: 'string' },
} as const;

export { parseArgs };

/** `verb [sub] …`: the subcommand, and `ls` when it is absent or the arguments start with a flag. */
export function splitSubcommand(args: string[]): [string, string[]] {
  return !args[0] || args[0].startsWith('-') ? ['ls', args] : [args[0], args.slice(1)];
}

/** The id a subcommand acts on: the first positional, or an error saying which id is missing. */
export function requireId(positionals: string[], command: string, what: string): string {
  const id = positionals[0];
  if (!id) throw new Error(`${command} needs ${what}`);
  return id;
}

if (import.meta.main) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
