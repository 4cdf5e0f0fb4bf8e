/** Workflow definitions: register (YAML or JSON text), list, read, and the published JSON Schema. */
import type { OpenAPIHono } from '@hono/zod-openapi';
import { AppError } from '../../errors.ts';
import type { WorkflowApi } from '../../workflow/workflow-api.ts';
import {
  DEFINITION_TYPES,
  getWorkflowRoute,
  listWorkflowsRoute,
  registerWorkflowRoute,
  StartRunBody,
  startRunRoute,
} from '../contract/workflows.ts';
import { openapiReadingBody } from '../openapi.ts';
import { readBody, runView } from '../run-view.ts';

/** The media type without parameters; absent means the client sent bare text, which is fine. */
function checkContentType(header: string | undefined): void {
  const type = header?.split(';')[0]?.trim().toLowerCase();
  if (!type || (DEFINITION_TYPES as readonly string[]).includes(type)) return;
  throw new AppError('validation', `Content-Type must be one of ${DEFINITION_TYPES.join(', ')}; got ${type}`, {
    field: 'Content-Type',
  });
}

/** `?filename=brief.yaml` names the file in error messages (the CLI sends the file's base name). */
function filenameParam(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (!/^[^/\\]{1,255}$/.test(value) || [...value].some((ch) => ch < ' ')) {
    throw new AppError('validation', 'filename must be a file name of at most 255 characters, without a path', {
      field: 'filename',
    });
  }
  return value;
}

/** A YAML syntax error concerns no single field: it names the body (its message has the line and column). */
function validate(workflows: WorkflowApi, text: string, filename: string | undefined) {
  try {
    return workflows.validateWorkflow(text, filename);
  } catch (err) {
    if (err instanceof AppError && err.kind === 'validation' && err.field === undefined) {
      throw new AppError('validation', err.message, { field: 'body', cause: err });
    }
    throw err;
  }
}

export function workflowRoutes(workflows: WorkflowApi): (app: OpenAPIHono) => void {
  return (app) => {
    // The body is YAML or JSON text, checked by the workflow parser (file, line, step and field in errors).
    app.openapi(registerWorkflowRoute, async (c) => {
      checkContentType(c.req.header('content-type'));
      const filename = filenameParam(c.req.query('filename'));
      const text = await c.req.text();
      if (text.trim() === '') {
        throw new AppError('validation', 'body must be a workflow definition (YAML or JSON)', { field: 'body' });
      }
      // Validate first to learn the name: 201 for a new workflow, 200 for an update (or an unchanged repeat).
      const { name } = validate(workflows, text, filename);
      const existed = await workflows.getWorkflow(name).then(
        () => true,
        (err: unknown) => {
          if (err instanceof AppError && err.kind === 'not_found') return false;
          throw err;
        },
      );
      const summary = await workflows.registerWorkflow(text, { source: 'api', ...(filename ? { filename } : {}) });
      return existed ? c.json(summary, 200) : c.json(summary, 201);
    });

    app.openapi(listWorkflowsRoute, async (c) => c.json({ items: await workflows.listWorkflows() }, 200));

    app.openapi(getWorkflowRoute, async (c) => c.json(await workflows.getWorkflow(c.req.valid('param').name), 200));

    openapiReadingBody(app, startRunRoute, async (c) => {
      const body = await readBody(c, StartRunBody);
      const key = c.req.header('idempotency-key');
      if (key !== undefined && !/^[\x21-\x7e]{1,255}$/.test(key)) {
        throw new AppError('validation', 'Idempotency-Key must be 1 to 255 printable ASCII characters', {
          field: 'Idempotency-Key',
        });
      }
      const { run, created } = await workflows.startRun(
        c.req.valid('param').name,
        body.inputs ?? {},
        key === undefined ? {} : { idempotencyKey: key },
      );
      return created ? c.json(runView(run), 201) : c.json(runView(run), 200);
    });
  };
}
