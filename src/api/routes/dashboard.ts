/**
 * The dashboard: the static single-page app built by `npm run build:dashboard` into dashboard/dist,
 * served at `/` by the API process itself. It routes on the URL's hash (`/#/tasks/…`), so the server
 * has one page to serve and no client routes can shadow API paths. Every response carries a strict
 * Content-Security-Policy: the page may load only its own scripts, styles and images, and talk only to
 * this server, so even a rendering bug cannot run a script a task's output smuggled in.
 */
import fs from 'node:fs';
import path from 'node:path';
import { serveStatic } from '@hono/node-server/serve-static';
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';

export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'self'",
].join('; ');

export const DEFAULT_DASHBOARD_DIR = path.resolve(import.meta.dirname, '../../../dashboard/dist');

const securityHeaders: MiddlewareHandler = async (c, next) => {
  await next();
  c.header('Content-Security-Policy', DASHBOARD_CSP);
  c.header('X-Content-Type-Options', 'nosniff');
  c.header('Referrer-Policy', 'no-referrer');
  c.header('X-Frame-Options', 'DENY');
};

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Switchyard: dashboard not built</title></head>
<body><h1>The dashboard is not built</h1>
<p>Build it with <code>npm run build:dashboard</code> (or <code>npm install</code>, which builds it), then reload.
The API is up: see <a href="/docs">/docs</a>.</p></body></html>
`;

export function dashboardRoutes(app: OpenAPIHono, dir: string = DEFAULT_DASHBOARD_DIR): void {
  const indexFile = path.join(dir, 'index.html');
  const page = async (c: Context) => {
    let html: string;
    try {
      html = await fs.promises.readFile(indexFile, 'utf8');
    } catch {
      return c.html(NOT_BUILT, 503);
    }
    c.header('Cache-Control', 'no-cache');
    return c.html(html);
  };
  for (const p of ['/', '/index.html', '/assets/*', '/favicon.svg']) app.use(p, securityHeaders);
  app.get('/', page);
  app.get('/index.html', page);
  // Vite names assets by content hash, so they never change under the same name.
  app.use('/assets/*', async (c, next) => {
    await next();
    if (c.res.status === 200) c.header('Cache-Control', 'public, max-age=31536000, immutable');
  });
  // Made on first use: serveStatic complains at creation when the directory is missing (not built yet).
  let files: MiddlewareHandler | undefined;
  const staticFiles: MiddlewareHandler = (c, next) => {
    if (!files) {
      if (!fs.existsSync(dir)) return next();
      files = serveStatic({ root: dir });
    }
    return files(c, next);
  };
  app.get('/assets/*', staticFiles);
  app.get('/favicon.svg', staticFiles);
}
