/** The OpenAPI document and a self-contained docs page that renders it (no CDN: works offline). */
import type { OpenAPIHono } from '@hono/zod-openapi';
import { workflowJsonSchema } from '../../domain/workflow-definition.ts';
import { docsPageRoute, openApiRoute, workflowSchemaRoute } from '../contract/system.ts';
import { openApiDocument } from '../openapi.ts';

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Switchyard API</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
code,pre{background:#f4f4f4;padding:.1rem .3rem}h2{margin-top:2rem}.op{border-top:1px solid #ddd;padding:.5rem 0}
.m{display:inline-block;min-width:4rem;font-weight:bold}</style></head>
<body><h1>Switchyard API</h1><p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1).</p>
<div id="ops">Loading…</div>
<script>
fetch('/openapi.json').then(r => r.json()).then(doc => {
  const out = document.getElementById('ops'); out.textContent = '';
  for (const [path, ops] of Object.entries(doc.paths)) for (const [method, op] of Object.entries(ops)) {
    const div = document.createElement('div'); div.className = 'op';
    const head = document.createElement('div');
    const m = document.createElement('span'); m.className = 'm'; m.textContent = method.toUpperCase();
    const p = document.createElement('code'); p.textContent = path;
    head.append(m, p); div.append(head);
    const d = document.createElement('p'); d.textContent = op.summary || ''; div.append(d);
    if (op.requestBody) { const pre = document.createElement('pre');
      pre.textContent = JSON.stringify(op.requestBody.content['application/json'].schema, null, 2); div.append(pre); }
    out.append(div);
  }
});
</script></body></html>`;

/** Public like the docs: editors fetch the workflow schema by URL, without a key; it holds no data. */
export function docsRoutes(app: OpenAPIHono): void {
  app.openapi(openApiRoute, (c) => c.json(openApiDocument(app) as Record<string, unknown>, 200));
  app.openapi(workflowSchemaRoute, (c) => c.json(workflowJsonSchema(), 200));
  app.openapi(docsPageRoute, (c) => c.html(PAGE, 200));
}
