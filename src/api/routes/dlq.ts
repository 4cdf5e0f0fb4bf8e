/** The dead-letter queue: steps that failed for good, with what they were given; retry or discard. */
import type { Hono } from 'hono';
import type { DlqEntry, WorkflowApi } from '../../workflow/workflow-api.ts';
import { cursorParam, enumParam, runView } from '../run-view.ts';
import { intParam } from './tasks.ts';

export const DLQ_STATUSES: readonly DlqEntry['status'][] = ['open', 'retried', 'discarded'];

export function dlqRoutes(workflows: WorkflowApi): (app: Hono) => void {
  return (app) => {
    app.get('/v1/dlq', async (c) => {
      const status = enumParam(c.req.query('status'), 'status', DLQ_STATUSES);
      const cursor = cursorParam(c.req.query('cursor'));
      const limit = Math.floor(intParam(c.req.query('limit'), 'limit', 1, 200, 50));
      const page = await workflows.listDlq({ limit, ...(status ? { status } : {}), ...(cursor ? { cursor } : {}) });
      return c.json(page);
    });

    app.get('/v1/dlq/:id', async (c) => c.json(await workflows.getDlq(c.req.param('id'))));

    app.post('/v1/dlq/:id/retry', async (c) => c.json(runView(await workflows.retryDlq(c.req.param('id')))));

    app.post('/v1/dlq/:id/discard', async (c) => c.json(await workflows.discardDlq(c.req.param('id'))));
  };
}
