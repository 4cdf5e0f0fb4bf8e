/**
 * What the run cluster tests share: a PostgreSQL cluster of real `serve --role` processes whose http
 * steps may reach loopback services, and a loopback service that records how many requests it holds
 * at once.
 */
import type { ServerResponse } from 'node:http';
import { WorkflowClient } from '../../src/client/workflow-client.ts';
import type { Role } from '../../src/config.ts';
import { startScriptedModel } from '../../src/model/scripted-model.ts';
import { type Cluster, type ClusterNode, startCluster } from '../fixtures/cluster.ts';
import { type Service, type ServiceRequest, startService } from '../scenarios/kit.ts';

export interface RunCluster {
  cluster: Cluster;
  client(node: ClusterNode): WorkflowClient;
  close(): Promise<void>;
}

export async function startRunCluster(databaseUrl: string, roles: Role[]): Promise<RunCluster> {
  const model = await startScriptedModel(() => ({ text: 'ok' }));
  const cluster = await startCluster({
    databaseUrl,
    modelUrl: model.url,
    roles,
    env: { SWITCHYARD_HTTP_ALLOW: '127.0.0.1' },
  });
  return {
    cluster,
    client: (node) => new WorkflowClient({ baseUrl: node.process.url }),
    async close() {
      await cluster.close();
      await model.close();
    },
  };
}

/** A service whose handler decides each answer; `peak` is the most requests it held open at once. */
export async function concurrencyService(
  handler: (req: ServiceRequest, res: ServerResponse) => void | Promise<void>,
): Promise<Service & { peak: () => number }> {
  let open = 0;
  let peak = 0;
  const service = await startService(async (req, res) => {
    open++;
    peak = Math.max(peak, open);
    res.on('close', () => open--);
    await handler(req, res);
  });
  return { ...service, peak: () => peak };
}

/** Polls a run until `done` says so (reads may land on any api node), bounded by `timeoutMs`. */
export async function runUntil<T extends { status: string }>(
  read: () => Promise<T>,
  done: (run: T) => boolean,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = await read();
    if (done(run)) return run;
    if (Date.now() > deadline) throw new Error(`run still ${run.status} after ${timeoutMs} ms: ${JSON.stringify(run)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
