/**
 * A secret that passes through Claude Code unchanged (a tool result, the assistant's text, an API
 * error body it quotes) reaches no task record, event, log line or file in the data dir: each place
 * holds `[redacted]` where the key was. The key is the configured model key, deliberately not shaped
 * like an Anthropic key, so the configured-value redaction is what is tested, not the shape match.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { SwitchyardClient, type TaskStreamEvent } from '../../src/client/client.ts';
import { type Script, startScriptedModel } from '../../src/model/scripted-model.ts';
import { filesContaining } from '../fixtures/files.ts';
import { tempDir } from '../fixtures/harness.ts';
import { spawnServer } from '../fixtures/server-process.ts';
import { databaseText, storeOf } from '../fixtures/test-backend.ts';

const KEY = 'model-key-7f3a9c2e51d84b06a1c9';
/** What a UI shows of a key ("…51d84b06a1c9"): a partial key is a secret too. */
const TAIL = KEY.slice(-12);
const WEBHOOK_SECRET = `whsec_${Buffer.from('switchyard-test-webhook-secret!').toString('base64')}`;

/** Resolves when the server's stdout (its log) has printed a line matching re. */
function logLine(child: { stdout: NodeJS.ReadableStream | null }, seen: () => string, re: RegExp): Promise<string> {
  return new Promise((resolve) => {
    const check = () => {
      const line = seen()
        .split('\n')
        .find((l) => re.test(l));
      if (line === undefined) return false;
      child.stdout!.off('data', check);
      resolve(line);
      return true;
    };
    if (!check()) child.stdout!.on('data', check);
  });
}

test('a key passed through by Claude Code is redacted in records, events, logs and the data dir', {
  timeout: 60_000,
}, async () => {
  // First a webhook receiver that refuses with the key in its body: the delivery error is logged and stored.
  const deliveries: string[] = [];
  const receiver = http.createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    deliveries.push(body);
    res.writeHead(500).end(`rejected: caller key ${KEY}`);
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;

  const script: Script = (req) => {
    if (req.prompt === 'error') {
      return { error: { status: 400, type: 'invalid_request_error', message: `bad key ${KEY} (…${TAIL})` } };
    }
    if (req.turnIndex === 0) return { tool_use: { name: 'Read', input: { file_path: `${workspace}/notes.txt` } } };
    return { text: `The key is ${KEY}; it ends …${TAIL}.` };
  };
  const model = await startScriptedModel(script);
  const root = tempDir();
  const dataDir = path.join(root, 'data');
  const workspace = path.join(root, 'ws');
  fs.mkdirSync(workspace);
  fs.writeFileSync(path.join(workspace, 'notes.txt'), `token: ${KEY}\n`);
  const server = await spawnServer({
    SWITCHYARD_DATA_DIR: dataDir,
    SWITCHYARD_WORKSPACE_ROOTS: workspace,
    SWITCHYARD_LOG_LEVEL: 'debug',
    SWITCHYARD_WEBHOOK_SECRET: WEBHOOK_SECRET,
    SWITCHYARD_HTTP_ALLOW: '127.0.0.1',
    ANTHROPIC_BASE_URL: model.url,
    ANTHROPIC_API_KEY: KEY,
  });
  try {
    const client = new SwitchyardClient({ baseUrl: server.url });
    const leak = await client.submit({ prompt: 'leak', allowed_tools: ['Read'], webhook_url: hookUrl });
    const failing = await client.submit({ prompt: 'error' });
    const done = await client.wait(leak.id);
    const failed = await client.wait(failing.id);
    const logged = await logLine(server.child, server.stdout, /webhook delivery failed/);

    // The control: the key really went through Claude Code, as a tool result the model was sent.
    assert.ok(model.requests.some((r) => r.lastUserText.includes(`token: ${KEY}`)));

    // [redacted] stands where the key was, in each place Claude Code passed it on unchanged.
    assert.equal(done.status, 'completed', JSON.stringify(done.error));
    assert.equal(done.response, 'The key is [redacted]; it ends …[redacted].');
    const events: TaskStreamEvent[] = [];
    for await (const e of client.events(leak.id)) events.push(e);
    assert.ok(
      events.some((e) => e.type === 'user' && JSON.stringify(e.data).includes('token: [redacted]')),
      'the Read tool result is in the events, redacted',
    );
    assert.equal(failed.status, 'failed');
    assert.equal(failed.error?.kind, 'model_error');
    assert.match(failed.error?.message ?? '', /bad key \[redacted\] \(…\[redacted\]\)/);
    assert.match(logged, /rejected: caller key \[redacted\]/);
    assert.match(deliveries[0] ?? '', /The key is \[redacted\]/, 'the webhook carried the redacted record');

    // And neither the key nor its tail is anywhere else.
    const failedEvents: TaskStreamEvent[] = [];
    for await (const e of client.events(failing.id)) failedEvents.push(e);
    const seen = JSON.stringify([done, failed, events, failedEvents, await client.list({ limit: 10 })]);
    // A graceful stop waits until every Claude Code process is gone, and with it the scrub of what it
    // wrote into its config dir (its transcript): only then is the data dir final.
    server.child.kill('SIGTERM');
    await server.exited;
    const stored = await databaseText(await storeOf(dataDir)); // PostgreSQL's rows; SQLite's file is in the data dir
    for (const secret of [KEY, TAIL]) {
      assert.ok(!seen.includes(secret), `${secret} reached the API`);
      assert.ok(!(server.stdout() + server.stderr()).includes(secret), `${secret} reached the log`);
      assert.deepEqual(filesContaining(dataDir, [secret]), [], `${secret} reached the data dir`);
      assert.ok(!stored.includes(secret), `${secret} reached the database`);
    }
    // The control for the transcripts: Claude Code wrote one, and it holds the redacted text.
    assert.ok(
      filesContaining(dataDir, ['token: [redacted]']).some((f) => f.startsWith(path.join(dataDir, 'claude/'))),
      'no transcript was written, so the check above proved nothing about transcripts',
    );
  } finally {
    server.child.kill('SIGKILL');
    await server.exited;
    await model.close();
    await new Promise<void>((r) => receiver.close(() => r()));
    fs.rmSync(root, { recursive: true, force: true });
  }
});
