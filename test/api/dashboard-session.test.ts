/**
 * Dashboard login sessions over real HTTP: the cookie's flags, a logout that really ends the session,
 * and the CSRF rules for cookie-authenticated writes. A write that passes auth on an unknown task
 * answers 404, so 404 here means "let through" and 403/401 means "refused".
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { OpenAPIHono } from '@hono/zod-openapi';
import { DASHBOARD_CSP, dashboardRoutes } from '../../src/api/routes/dashboard.ts';
import { type Harness, startHarness, tempDir } from '../fixtures/harness.ts';

const KEY = 'dashboard-key-0123456789abcdef';
const WRITE = '/v1/tasks/no-such-task/cancel';

interface Login {
  cookie: string;
  csrf: string;
  setCookie: string;
}

async function login(h: Harness, headers: Record<string, string> = {}): Promise<Login> {
  const res = await h.fetch('/v1/session', { method: 'POST', json: { api_key: KEY }, headers });
  assert.equal(res.status, 201);
  const body = (await res.json()) as { csrf_token: string; authenticated: boolean };
  assert.equal(body.authenticated, true);
  const setCookie = res.headers.getSetCookie()[0] ?? '';
  return { cookie: setCookie.split(';')[0]!, csrf: body.csrf_token, setCookie };
}

test('login: a wrong or missing key is refused; a right one sets a strict session cookie', async () => {
  const h = await startHarness({ env: { SWITCHYARD_API_KEYS: KEY } });
  try {
    assert.deepEqual(await (await h.fetch('/v1/session')).json(), { auth_required: true, authenticated: false });
    const wrong = await h.fetch('/v1/session', { method: 'POST', json: { api_key: `${KEY}x` } });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.headers.getSetCookie().length, 0, 'no cookie for a wrong key');
    const missing = await h.fetch('/v1/session', { method: 'POST', json: {} });
    assert.equal(missing.status, 400);
    assert.equal(((await missing.json()) as { error: { field: string } }).error.field, 'api_key');
    const extra = await h.fetch('/v1/session', { method: 'POST', json: { api_key: KEY, admin: true } });
    assert.equal(extra.status, 400);

    const { setCookie, cookie, csrf } = await login(h);
    const flags = setCookie.split(';').map((f) => f.trim().toLowerCase());
    assert.match(cookie, /^switchyard_session=[A-Za-z0-9_-]{43}$/);
    for (const flag of ['httponly', 'samesite=strict', 'path=/'])
      assert.ok(flags.includes(flag), `${flag} in ${setCookie}`);
    assert.ok(
      flags.some((f) => f.startsWith('max-age=')),
      'the cookie expires',
    );
    assert.ok(!flags.includes('secure'), 'plain http: no Secure flag (the browser would drop the cookie)');
    const https = await login(h, { 'x-forwarded-proto': 'https' });
    assert.ok(https.setCookie.toLowerCase().includes('; secure'), 'Secure when the request came over https');

    // The cookie reads the API and GET /v1/session hands the page its CSRF token back.
    assert.equal((await h.fetch('/v1/tasks', { headers: { cookie } })).status, 200);
    const session = (await (await h.fetch('/v1/session', { headers: { cookie } })).json()) as { csrf_token: string };
    assert.equal(session.csrf_token, csrf);
    // A made-up cookie is nobody's session.
    const forged = await h.fetch('/v1/tasks', { headers: { cookie: 'switchyard_session=AAAA' } });
    assert.equal(forged.status, 401);
  } finally {
    await h.close();
  }
});

test('CSRF: cookie writes need the session token and this origin; Bearer clients are unaffected', async () => {
  const h = await startHarness({ env: { SWITCHYARD_API_KEYS: KEY } });
  try {
    const { cookie, csrf } = await login(h);
    const other = await login(h);
    const write = (headers: Record<string, string>) =>
      h.fetch(WRITE, { method: 'POST', headers: { cookie, ...headers } });
    const refused = async (res: Response, field: string) => {
      assert.equal(res.status, 403);
      assert.equal(((await res.json()) as { error: { field: string } }).error.field, field);
    };
    await refused(await write({}), 'X-CSRF-Token');
    await refused(await write({ 'x-csrf-token': `${csrf}x` }), 'X-CSRF-Token');
    await refused(await write({ 'x-csrf-token': other.csrf }), 'X-CSRF-Token');
    const own = new URL(h.url).origin;
    await refused(await write({ 'x-csrf-token': csrf, origin: 'https://evil.example' }), 'Origin');
    await refused(await write({ 'x-csrf-token': csrf, origin: 'null' }), 'Origin');
    await refused(await write({ 'x-csrf-token': csrf, 'sec-fetch-site': 'cross-site' }), 'Origin');
    assert.equal((await write({ 'x-csrf-token': csrf })).status, 404, 'token, no Origin: let through');
    assert.equal((await write({ 'x-csrf-token': csrf, origin: own, 'sec-fetch-site': 'same-origin' })).status, 404);
    // Reads need no token.
    assert.equal((await h.fetch('/v1/tasks', { headers: { cookie, origin: own } })).status, 200);
    // A cross-site login form is refused too (login CSRF).
    const crossLogin = await h.fetch('/v1/session', {
      method: 'POST',
      json: { api_key: KEY },
      headers: { origin: 'https://evil.example' },
    });
    assert.equal(crossLogin.status, 403);

    const bearer = await h.fetch(WRITE, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, origin: 'https://elsewhere.example' },
    });
    assert.equal(bearer.status, 404, 'a Bearer key needs no CSRF token and may come from any origin');
    const badBearer = await h.fetch(WRITE, { method: 'POST', headers: { authorization: 'Bearer nope', cookie } });
    assert.equal(badBearer.status, 401, 'an Authorization header is judged alone, not rescued by the cookie');
  } finally {
    await h.close();
  }
});

test('logout ends the session on the server, not only in the browser', async () => {
  const h = await startHarness({ env: { SWITCHYARD_API_KEYS: KEY } });
  try {
    const { cookie, csrf } = await login(h);
    assert.equal((await h.fetch('/v1/session', { method: 'DELETE', headers: { cookie } })).status, 403, 'needs CSRF');
    const out = await h.fetch('/v1/session', { method: 'DELETE', headers: { cookie, 'x-csrf-token': csrf } });
    assert.equal(out.status, 200);
    assert.match(out.headers.getSetCookie()[0] ?? '', /switchyard_session=;.*Max-Age=0/i);
    // The old cookie, replayed as it was, no longer works.
    assert.equal((await h.fetch('/v1/tasks', { headers: { cookie } })).status, 401);
    assert.deepEqual(await (await h.fetch('/v1/session', { headers: { cookie } })).json(), {
      auth_required: true,
      authenticated: false,
    });
  } finally {
    await h.close();
  }
});

test('without API keys there is no login', async () => {
  const h = await startHarness();
  try {
    assert.deepEqual(await (await h.fetch('/v1/session')).json(), { auth_required: false, authenticated: true });
    const res = await h.fetch('/v1/session', { method: 'POST', json: { api_key: 'anything' } });
    assert.equal(res.status, 409);
  } finally {
    await h.close();
  }
});

test('dashboard files: CSP on every response, a clear page when not built, no path escapes', async () => {
  const empty = tempDir();
  const missing = new OpenAPIHono();
  dashboardRoutes(missing, path.join(empty, 'no-dist'));
  const notBuilt = await missing.request('/');
  fs.rmSync(empty, { recursive: true, force: true });
  assert.equal(notBuilt.status, 503);
  assert.match(await notBuilt.text(), /npm run build:dashboard/);
  assert.equal(notBuilt.headers.get('content-security-policy'), DASHBOARD_CSP);

  const dir = tempDir();
  try {
    fs.mkdirSync(path.join(dir, 'assets'));
    fs.writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>x</title>');
    fs.writeFileSync(path.join(dir, 'assets', 'app-1.js'), 'export {}');
    fs.writeFileSync(path.join(path.dirname(dir), `${path.basename(dir)}-secret.txt`), 'secret');
    const app = new OpenAPIHono();
    dashboardRoutes(app, dir);
    for (const p of ['/', '/index.html', '/assets/app-1.js']) {
      const res = await app.request(p);
      assert.equal(res.status, 200, p);
      assert.equal(res.headers.get('content-security-policy'), DASHBOARD_CSP, p);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', p);
      assert.equal(res.headers.get('referrer-policy'), 'no-referrer', p);
    }
    assert.match((await app.request('/assets/app-1.js')).headers.get('content-type') ?? '', /javascript/);
    for (const p of [
      `/assets/../../${path.basename(dir)}-secret.txt`,
      `/assets/%2e%2e/%2e%2e/${path.basename(dir)}-secret.txt`,
      '/assets/nope.js',
    ]) {
      const res = await app.request(p);
      assert.notEqual(res.status, 200, p);
    }
    assert.match(DASHBOARD_CSP, /script-src 'self'/);
    assert.doesNotMatch(DASHBOARD_CSP, /unsafe-inline|unsafe-eval/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(path.join(path.dirname(dir), `${path.basename(dir)}-secret.txt`), { force: true });
  }
});
