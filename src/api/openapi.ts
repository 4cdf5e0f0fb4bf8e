/**
 * The API as an OpenAPIHono app: routes are mounted from the contract's route definitions
 * (src/api/contract/), so /openapi.json is generated from the same zod schemas that validate
 * parameters and bodies, and cannot drift from what the server accepts.
 */
import { OpenAPIHono, type RouteConfig, type RouteHandler } from '@hono/zod-openapi';
import type { z } from 'zod';
import { workflowJsonSchema } from '../domain/workflow-definition.ts';
import { AppError } from '../errors.ts';

/**
 * The first issue as our 400: the field named, the rule in the schema's own message; an unknown
 * field is named as such. Never zod's issue list.
 */
export function validationError(issues: readonly z.core.$ZodIssue[]): AppError {
  const issue = issues[0];
  if (issue?.code === 'unrecognized_keys') {
    const field = [...issue.path.map(String), issue.keys[0]!].join('.');
    return new AppError('validation', `unknown field ${JSON.stringify(field)}`, { field });
  }
  const field = issue && issue.path.length > 0 ? issue.path.map(String).join('.') : 'body';
  return new AppError('validation', `${field} ${issue?.message ?? 'is invalid'}`, { field });
}

export function createOpenApiApp(): OpenAPIHono {
  const app = new OpenAPIHono({
    defaultHook: (result) => {
      if (!result.success) throw validationError(result.error.issues);
    },
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer' });
  app.openAPIRegistry.registerComponent('schemas', 'Workflow', workflowJsonSchema() as never);
  return app;
}

/**
 * Mounts a route whose JSON body the handler reads itself (json-body.ts readJson, then the contract's
 * schema): any content type is accepted, nesting is bounded before parsing, and a malformed body gets
 * our message, where the library's body validator would answer 415 or its own 400. The body is still
 * documented from the same schema.
 */
export function openapiReadingBody<R extends RouteConfig>(app: OpenAPIHono, route: R, handler: RouteHandler<R>): void {
  app.openAPIRegistry.registerPath(route);
  const { body: _documentedOnly, ...request } = route.request ?? {};
  app.openapi({ ...route, request, hide: true }, handler as never);
}

const documents = new WeakMap<OpenAPIHono, unknown>();

/** Generated once, on first request: every route is mounted by then. */
export function openApiDocument(app: OpenAPIHono): unknown {
  let doc = documents.get(app);
  if (doc === undefined) {
    doc = app.getOpenAPI31Document({
      openapi: '3.1.0',
      info: { title: 'Switchyard', version: '0.1.0', description: 'Claude Code as an HTTP worker.' },
      security: [{ bearer: [] }],
    });
    documents.set(app, doc);
  }
  return doc;
}
