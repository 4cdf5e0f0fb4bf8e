/**
 * What the example pipelines' end-to-end tests share: the example's own file with only its base URLs
 * pointed at local stand-ins, the two secrets a user sets, and a server whose http steps and checkouts
 * may reach loopback.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { TestContext } from 'node:test';
import type { Script } from '../../src/model/scripted-model.ts';
import type { Clock } from '../../src/triggers/clock.ts';
import type { RunStatus, RunView } from '../../src/workflow/workflow-api.ts';
import { type Harness, startHarness } from '../fixtures/harness.ts';

export const GITHUB_TOKEN = 'ghs_exampleToken_0f3c9a7e51d24b86';
export const HOOK_SECRET = 'whsec-example-4d1b8e0c6a2f9735';

/** examples/<name>/<name>.yaml with each base URL replaced, and nothing else. */
export function exampleText(name: string, baseUrls: Record<string, string>): string {
  let text = fs.readFileSync(path.resolve(import.meta.dirname, '../../examples', name, `${name}.yaml`), 'utf8');
  for (const [from, to] of Object.entries(baseUrls)) {
    if (!text.includes(from)) throw new Error(`examples/${name}: no ${from} to replace`);
    text = text.replaceAll(from, to);
  }
  return text;
}

/** Registers the example through the API, as a user would (`switchyard workflows register`). */
export async function registerExample(h: Harness, name: string, baseUrls: Record<string, string>): Promise<void> {
  const res = await h.fetch(`/v1/workflows?filename=${name}.yaml`, {
    method: 'POST',
    headers: { 'content-type': 'application/yaml' },
    body: exampleText(name, baseUrls),
  });
  if (res.status !== 201) throw new Error(`registering examples/${name}: ${res.status} ${await res.text()}`);
}

/** A server configured the way an example's README says, plus loopback access for the stand-ins. */
export async function startExampleServer(
  t: TestContext,
  options: { script?: Script; env?: Record<string, string>; clock?: Clock } = {},
): Promise<Harness> {
  const h = await startHarness({
    ...options,
    env: {
      SWITCHYARD_HTTP_ALLOW: '127.0.0.1',
      SWITCHYARD_SECRET_GITHUB_TOKEN: GITHUB_TOKEN,
      SWITCHYARD_SECRET_GH_WEBHOOK_SECRET: HOOK_SECRET,
      ...options.env,
    },
  });
  t.after(() => h.close());
  return h;
}

/** The run once it has left `running` (a terminal status, or waiting for a person); bounded. */
export async function settledRun(h: Harness, id: string, limitMs = 120_000): Promise<RunView> {
  const waiting: ReadonlySet<RunStatus> = new Set(['awaiting_approval', 'completed', 'failed']);
  const deadline = Date.now() + limitMs;
  for (;;) {
    const run = await h.server.workflows.getRun(id);
    if (waiting.has(run.status) || Date.now() > deadline) return run;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
