/** Workflow runs: list, read (long-poll), events (SSE), cancel, rerun, approval decisions. */
import type { Hono } from 'hono';
import { AppError } from '../../errors.ts';
import { WORKFLOW_NAME } from '../../workflow/definition-schema.ts';
import type { RunEvent, RunStatus, WorkflowApi } from '../../workflow/workflow-api.ts';
import { commentBody, cursorParam, enumParam, readBody, rerunBody, runView } from '../run-view.ts';
import { streamEvents } from '../sse.ts';
import { intParam } from './tasks.ts';

export const RUN_STATUSES: readonly RunStatus[] = ['queued', 'running', 'awaiting_approval', 'completed', 'failed'];
const TERMINAL = new Set<string>(['completed', 'failed']);

export function runRoutes(workflows: WorkflowApi): (app: Hono) => void {
  return (app) => {
    app.get('/v1/runs', async (c) => {
      const workflow = c.req.query('workflow') || undefined;
      if (workflow !== undefined && (!WORKFLOW_NAME.test(workflow) || workflow.length > 100)) {
        throw new AppError('validation', 'workflow must be a workflow name', { field: 'workflow' });
      }
      const status = enumParam(c.req.query('status'), 'status', RUN_STATUSES);
      const cursor = cursorParam(c.req.query('cursor'));
      const limit = Math.floor(intParam(c.req.query('limit'), 'limit', 1, 200, 50));
      const page = await workflows.listRuns({
        limit,
        ...(workflow ? { workflow } : {}),
        ...(status ? { status } : {}),
        ...(cursor ? { cursor } : {}),
      });
      return c.json({ items: page.items.map(runView), next_cursor: page.next_cursor });
    });

    app.get('/v1/runs/:id', async (c) => {
      const waitSeconds = intParam(c.req.query('wait'), 'wait', 0, 300, 0);
      const id = c.req.param('id');
      const run =
        waitSeconds > 0
          ? await workflows.waitRun(id, waitSeconds * 1000, c.req.raw.signal)
          : await workflows.getRun(id);
      return c.json(runView(run));
    });

    app.get('/v1/runs/:id/events', async (c) => {
      const id = c.req.param('id');
      await workflows.getRun(id);
      return streamEvents<RunEvent>(c, {
        replay: (after, limit) => workflows.runEvents(id, after, limit),
        subscribe: (listener) => workflows.onRunEvent(id, listener),
        // A rerun or a DLQ redrive makes a finished run live again: the latest "run" event decides.
        ends: (e) => (e.type === 'run' ? TERMINAL.has((e.data as { status?: string })?.status ?? '') : undefined),
        isOver: async () => TERMINAL.has((await workflows.getRun(id)).status),
      });
    });

    app.post('/v1/runs/:id/cancel', async (c) => c.json(runView(await workflows.cancelRun(c.req.param('id')))));

    app.post('/v1/runs/:id/rerun', async (c) => {
      const { step } = await readBody(c, rerunBody);
      return c.json(runView(await workflows.rerunFrom(c.req.param('id'), step)));
    });

    for (const [verb, approved] of [
      ['approve', true],
      ['reject', false],
    ] as const) {
      app.post(`/v1/runs/:id/steps/:step/${verb}`, async (c) => {
        const { comment } = await readBody(c, commentBody);
        const run = await workflows.decideApproval(c.req.param('id'), c.req.param('step'), {
          approved,
          ...(comment !== undefined ? { comment } : {}),
        });
        return c.json(runView(run));
      });
    }
  };
}
