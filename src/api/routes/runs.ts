/** Workflow runs: list, read (long-poll), events (SSE), cancel, rerun, approval decisions. */
import type { OpenAPIHono } from '@hono/zod-openapi';
import { WORKFLOW_NAME } from '../../domain/workflow-definition.ts';
import { AppError } from '../../errors.ts';
import type { RunEvent, WorkflowApi } from '../../workflow/workflow-api.ts';
import {
  approveRoute,
  CommentBody,
  cancelRunRoute,
  getRunRoute,
  listRunsRoute,
  RerunBody,
  rejectRoute,
  rerunRoute,
  runEventsRoute,
} from '../contract/workflows.ts';
import { openapiReadingBody } from '../openapi.ts';
import { readBody, runView } from '../run-view.ts';
import { streamEvents } from '../sse.ts';

const TERMINAL = new Set<string>(['completed', 'failed']);

export function runRoutes(workflows: WorkflowApi): (app: OpenAPIHono) => void {
  return (app) => {
    app.openapi(listRunsRoute, async (c) => {
      const { status, limit, cursor } = c.req.valid('query');
      const workflow = c.req.valid('query').workflow || undefined;
      if (workflow !== undefined && (!WORKFLOW_NAME.test(workflow) || workflow.length > 100)) {
        throw new AppError('validation', 'workflow must be a workflow name', { field: 'workflow' });
      }
      const page = await workflows.listRuns({
        limit: Math.floor(limit ?? 50),
        ...(workflow ? { workflow } : {}),
        ...(status ? { status } : {}),
        ...(cursor ? { cursor } : {}),
      });
      return c.json({ items: page.items.map(runView), next_cursor: page.next_cursor }, 200);
    });

    app.openapi(getRunRoute, async (c) => {
      const waitSeconds = c.req.valid('query').wait ?? 0;
      const { id } = c.req.valid('param');
      const run =
        waitSeconds > 0
          ? await workflows.waitRun(id, waitSeconds * 1000, c.req.raw.signal)
          : await workflows.getRun(id);
      return c.json(runView(run), 200);
    });

    app.openapi(runEventsRoute, async (c) => {
      const { id } = c.req.valid('param');
      await workflows.getRun(id);
      return streamEvents<RunEvent>(c, {
        replay: (after, limit) => workflows.runEvents(id, after, limit),
        subscribe: (listener) => workflows.onRunEvent(id, listener),
        // A rerun or a DLQ redrive makes a finished run live again: the latest "run" event decides.
        ends: (e) => (e.type === 'run' ? TERMINAL.has((e.data as { status?: string })?.status ?? '') : undefined),
        isOver: async () => TERMINAL.has((await workflows.getRun(id)).status),
      });
    });

    app.openapi(cancelRunRoute, async (c) => c.json(runView(await workflows.cancelRun(c.req.valid('param').id)), 200));

    openapiReadingBody(app, rerunRoute, async (c) => {
      const { step } = await readBody(c, RerunBody);
      return c.json(runView(await workflows.rerunFrom(c.req.valid('param').id, step)), 200);
    });

    for (const [route, approved] of [
      [approveRoute, true],
      [rejectRoute, false],
    ] as const) {
      openapiReadingBody(app, route, async (c) => {
        const { comment } = await readBody(c, CommentBody);
        const { id, step } = c.req.valid('param');
        const run = await workflows.decideApproval(id, step, {
          approved,
          ...(comment !== undefined ? { comment } : {}),
        });
        return c.json(runView(run), 200);
      });
    }
  };
}
