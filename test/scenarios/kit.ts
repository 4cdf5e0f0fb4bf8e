/**
 * What every workflow scenario needs: a real Switchyard in-process (scripted model for claude steps),
 * loopback HTTP services that record when each request started and ended, and the scenario's own
 * workflow.yaml with the test's URLs filled in.
 */
import fs from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { TestContext } from 'node:test';
import type { Script } from '../../src/model/scripted-model.ts';
import type { RunEvent } from '../../src/workflow/workflow-api.ts';
import { type Harness, startHarness } from '../fixtures/harness.ts';

export const now = () => performance.timeOrigin + performance.now();

export interface ServiceRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  startedAt: number;
  endedAt?: number;
}

export interface Service {
  url: string;
  requests: ServiceRequest[];
  /** Resolves once `count` requests have arrived. */
  waitFor(count: number): Promise<void>;
  close(): Promise<void>;
}

export type Handler = (req: ServiceRequest, res: ServerResponse) => void | Promise<void>;

/** A loopback HTTP service; the handler answers, and every request is recorded with its times. */
export async function startService(handler: Handler): Promise<Service> {
  const requests: ServiceRequest[] = [];
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  const server = createServer(async (req, res) => {
    const startedAt = now();
    const chunks: Buffer[] = [];
    for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
    const record: ServiceRequest = {
      method: req.method ?? '',
      path: req.url ?? '',
      headers: req.headers,
      body: Buffer.concat(chunks).toString('utf8'),
      startedAt,
    };
    requests.push(record);
    res.on('close', () => {
      record.endedAt = now();
    });
    for (const w of waiters.filter((w) => requests.length >= w.count)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
    await handler(record, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    waitFor: (count) =>
      requests.length >= count ? Promise.resolve() : new Promise((resolve) => waiters.push({ count, resolve })),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/** The scenario's workflow.yaml with `${NAME}` placeholders replaced. */
export function workflowText(dir: string, vars: Record<string, string> = {}, file = 'workflow.yaml'): string {
  const text = fs.readFileSync(path.join(dir, file), 'utf8');
  return text.replace(/\$\{(\w+)\}/g, (_, name: string) => {
    const value = vars[name];
    if (value === undefined) throw new Error(`${file}: no value for \${${name}}`);
    return value;
  });
}

/** A server whose http steps may reach loopback services (the operator allow-list). */
export function startEngine(options: { script?: Script; env?: Record<string, string> } = {}): Promise<Harness> {
  return startHarness({
    ...options,
    env: { SWITCHYARD_HTTP_ALLOW: '127.0.0.1', ...options.env },
  });
}

/**
 * The usual scenario: an engine whose http steps reach `api`, the scenario's workflow.yaml
 * registered with `${API}` pointing at it, and both stopped when the test ends.
 */
export async function startScenario(t: TestContext, dir: string, api: Service) {
  const h = await startEngine();
  t.after(async () => {
    await h.close();
    await api.close();
  });
  const wf = h.server.workflows;
  await wf.registerWorkflow(workflowText(dir, { API: api.url }));
  return { h, wf };
}

/** Collects a run's events as they are published. */
export function recordEvents(h: Harness, runId: string): RunEvent[] {
  const events: RunEvent[] = [];
  h.server.workflows.onRunEvent(runId, (e) => events.push(e));
  return events;
}

/** True when two [start, end] intervals overlap. */
export function overlaps(a: { startedAt: number; endedAt?: number }, b: { startedAt: number; endedAt?: number }) {
  return a.startedAt < (b.endedAt ?? Number.POSITIVE_INFINITY) && b.startedAt < (a.endedAt ?? Number.POSITIVE_INFINITY);
}
