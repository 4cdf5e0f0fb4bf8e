/**
 * A Switchyard in its own process for the crash scenario: starts the server from the environment
 * (the workflow comes from SWITCHYARD_WORKFLOWS_DIR), starts one run and reports its id on stderr.
 */
import { loadConfig } from '../../../src/config.ts';
import { startServer } from '../../../src/main.ts';

const server = await startServer(loadConfig(process.env));
const { run } = await server.workflows.startRun('crash-resume', {});
process.stderr.write(`run ${run.id}\n`);
