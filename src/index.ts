/**
 * Switchyard's public entry: the typed client for users, and the server pieces for embedding.
 *
 * @example
 * ```ts
 * import { SwitchyardClient } from 'switchyard';
 * const client = new SwitchyardClient({ baseUrl: 'http://127.0.0.1:7847' });
 * const task = await client.submit({ prompt: 'List the TODOs in src/', allowed_tools: ['Grep'] });
 * console.log((await client.wait(task.id)).response);
 * ```
 */
export type { ClientOptions, Task, TaskError, TaskRequest, TaskStreamEvent } from './client/client.ts';
export { isTerminal, SwitchyardClient, SwitchyardError } from './client/client.ts';
export type { Config } from './config.ts';
export { loadConfig } from './config.ts';
export type { ErrorInfo, ErrorKind } from './errors.ts';
export { AppError, ERROR_KINDS } from './errors.ts';
export type { RunningServer, ServerOptions } from './main.ts';
export { startServer } from './main.ts';
export type { Script, ScriptedModel, Turn } from './model/scripted-model.ts';
export { startScriptedModel } from './model/scripted-model.ts';
export type { Clock, TimerHandle } from './triggers/clock.ts';
export { ManualClock, realClock } from './triggers/clock.ts';
