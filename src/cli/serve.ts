import { parseArgs } from 'node:util';
import { loadConfig } from '../config.ts';
import { startServer } from '../main.ts';

export async function serveCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      'data-dir': { type: 'string' },
      'workspace-roots': { type: 'string' },
      concurrency: { type: 'string' },
      'workflows-dir': { type: 'string' },
      'log-level': { type: 'string' },
      demo: { type: 'boolean' },
      /** api, worker or all (SWITCHYARD_ROLE): what this process does in a cluster (docs/cluster.md). */
      role: { type: 'string' },
    },
  });
  const config = loadConfig(process.env, values as Record<string, string | boolean>);
  const server = await startServer(config);
  console.error(
    `switchyard listening on ${server.url} (role ${config.role})${config.demo ? ' (demo: built-in scripted model)' : ''}`,
  );
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      // Drain: no new jobs; running tasks get the grace period; what is left is handed back to the queue.
      console.error(`switchyard: ${signal}, draining running tasks`);
      void server.close(config.drainSeconds * 1000).then(resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  return 0;
}
