/**
 * The OS sandbox (src/runners/claude/sandbox.ts), tried as an attacker would with an unscoped Bash rule,
 * i.e. arbitrary code inside the sandbox: what it can see of processes, files and the network, and what
 * survives the task. Each refusal sits beside the allowed thing working in the same task.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { probeSandbox } from '../../src/runners/claude/sandbox.ts';
import { assertWorked, SECRET, startBoundaryHarness } from '../fixtures/boundary-harness.ts';

// CI installs bubblewrap and socat; a machine without them fails here instead of testing nothing.
const SANDBOXED = { SWITCHYARD_SANDBOX: 'required' };
const REAL_KEY = 'sk-ant-test-key-not-secret'; // the harness's upstream key

/** Any script, as arbitrary code inside the sandbox: piped to bash, so the gate's syntax checks pass it. */
const bash = (script: string) => ({
  name: 'Bash',
  input: { command: `echo ${Buffer.from(script).toString('base64')} | base64 -d | bash` },
});

test('/health and result.policy say the sandbox is on; off and a missing bwrap say why not', async () => {
  const h = await startBoundaryHarness(SANDBOXED);
  try {
    const health = (await (await h.fetch('/health')).json()) as { sandbox: unknown };
    assert.deepEqual(health.sandbox, { mode: 'required', active: true });
    const run = await h.run({ prompt: 'noop', allowed_tools: ['Read'] }, []);
    assert.deepEqual(run.task.result.policy.sandbox, { mode: 'required', active: true });
  } finally {
    await h.close();
  }
  assert.deepEqual(await probeSandbox('off'), { mode: 'off', active: false, reason: 'SWITCHYARD_SANDBOX=off' });
  const missing = await probeSandbox('required', { PATH: '/nonexistent' });
  assert.equal(missing.active, false);
  assert.match(missing.reason ?? '', /bwrap is not installed \(Debian\/Ubuntu: apt-get install bubblewrap\)/);
});

test('the agent sees its own processes only: not the server, not its /proc/*/environ and the real key', async () => {
  const h = await startBoundaryHarness(SANDBOXED);
  try {
    const run = await h.run({ prompt: 'proc', allowed_tools: ['Bash'] }, [
      bash(`cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n' | grep ANTHROPIC_; true`),
      bash(`cat /proc/*/cmdline 2>/dev/null | tr '\\0' ' '; echo; ls /proc | grep -cE '^[0-9]+$'`),
    ]);
    const [environ, cmdlines] = run.outcomes;
    // The control: grepping /proc works, and finds the task's own per-task token.
    assertWorked(environ!, /ANTHROPIC_API_KEY=sy-task-/);
    assert.ok(!environ!.text.includes(REAL_KEY), 'the real model key was readable through /proc');
    assertWorked(cmdlines!, /claude/);
    assert.ok(!cmdlines!.text.includes('sandbox.test.ts'), "the server's own process was visible");
    const processCount = Number(cmdlines!.text.trim().split('\n').at(-1));
    assert.ok(processCount > 0 && processCount < 20, `the agent saw ${processCount} processes`);
  } finally {
    await h.close();
  }
});

test('the filesystem holds the workspace and read-only system dirs: not the data dir, the install, /etc/shadow', async () => {
  const h = await startBoundaryHarness(SANDBOXED);
  try {
    fs.writeFileSync(path.join(h.workspace, 'hello.txt'), 'hello-content-7');
    const first = await h.run({ prompt: 'first', allowed_tools: ['Read'] }, []);
    const run = await h.run({ prompt: 'files', allowed_tools: ['Bash'] }, [
      bash('cat hello.txt && echo made-inside > made.txt && cat made.txt'),
      bash(`ls ${h.dataDir}/claude; ls -a ${h.dataDir}`),
      bash(`cat ../outside.txt ${path.resolve('package.json')} /etc/shadow 2>&1; ls ${path.resolve('src')} 2>&1; true`),
      bash('touch /usr/planted 2>&1; touch /etc/planted 2>&1; true'),
    ]);
    const [workspace, dataDir, outside, system] = run.outcomes;
    assertWorked(workspace!, /hello-content-7made-inside/);
    assert.equal(fs.readFileSync(path.join(h.workspace, 'made.txt'), 'utf8'), 'made-inside\n');
    // Only the task's own config dir is there: not the database, not the first task's transcripts.
    assert.match(dataDir!.text, new RegExp(run.task.id));
    assert.ok(!dataDir!.text.includes(first.task.id), "another task's config dir was visible");
    assert.ok(!/switchyard\.db|sqlite/.test(dataDir!.text), `the database was visible: ${dataDir!.text}`);
    assert.ok(!outside!.text.includes(SECRET), 'a file beside the workspace was readable');
    assert.ok(!outside!.text.includes('"name": "switchyard"'), "the server's install was readable");
    assert.ok(!outside!.text.includes('root:'), '/etc/shadow was readable');
    assert.match(outside!.text, /No such file or directory/);
    assert.match(system!.text, /Read-only file system/);
    assert.ok(!fs.existsSync('/usr/planted'));
  } finally {
    await h.close();
  }
});

test('control files stay read-only to the agent own Bash; the rest of the workspace is writable', async () => {
  const h = await startBoundaryHarness(SANDBOXED);
  try {
    execFileSync('git', ['init', '-q', h.workspace]);
    fs.mkdirSync(path.join(h.workspace, '.claude'));
    const run = await h.run({ prompt: 'control', allowed_tools: ['Bash'] }, [
      bash(
        'echo planted > .git/hooks/pre-commit 2>&1; echo planted >> .git/config 2>&1; echo {} > .claude/settings.json 2>&1; true',
      ),
      bash('echo fine > notes.txt && cat notes.txt'),
    ]);
    assert.match(run.outcomes[0]!.text, /Read-only file system/);
    assert.ok(!fs.existsSync(path.join(h.workspace, '.git/hooks/pre-commit')));
    assert.ok(!fs.readFileSync(path.join(h.workspace, '.git/config'), 'utf8').includes('planted'));
    assert.ok(!fs.existsSync(path.join(h.workspace, '.claude/settings.json')));
    assertWorked(run.outcomes[1]!, /fine/);
    // A variant: a task that points `.mcp.json` and `.claude` at host directories by symlink. The next
    // task's sandbox must not bind their targets in (a root server's /etc would then be readable).
    fs.rmSync(path.join(h.workspace, '.claude'), { recursive: true });
    fs.symlinkSync('/etc', path.join(h.workspace, '.claude'));
    fs.symlinkSync('/root', path.join(h.workspace, '.mcp.json'));
    const next = await h.run({ prompt: 'control-links', allowed_tools: ['Bash'] }, [
      bash('ls .claude/ .mcp.json/ 2>&1; cat /etc/shadow 2>&1; true'),
    ]);
    // The links resolve inside the sandbox: its own /etc (no shadow file there) and no /root at all.
    assert.ok(!/^g?shadow$|root:/m.test(next.outcomes[0]!.text), `host directories leaked: ${next.outcomes[0]!.text}`);
    assert.match(next.outcomes[0]!.text, /passwd/);
  } finally {
    await h.close();
  }
});

test('no network but the model: the host loopback is unreachable from inside', async () => {
  const h = await startBoundaryHarness(SANDBOXED);
  try {
    const port = new URL(h.model.url).port;
    const run = await h.run({ prompt: 'net', allowed_tools: ['Bash'] }, [
      bash(`(echo > /dev/tcp/127.0.0.1/${port}) 2>/dev/null && echo host-open || echo host-closed`),
      bash('(echo > /dev/tcp/127.0.0.1/8719) 2>/dev/null && echo forwarder-open || echo forwarder-closed'),
    ]);
    assertWorked(run.outcomes[0]!, /host-closed/);
    // The control: the sandbox's own loopback works, and that is how the model was reached at all.
    assertWorked(run.outcomes[1]!, /forwarder-open/);
  } finally {
    await h.close();
  }
});

test('nothing the agent started outlives its task, however it detached', async () => {
  const h = await startBoundaryHarness(SANDBOXED);
  const mark = `sy-survivor-${process.pid}-${Date.now()}`;
  try {
    const run = await h.run({ prompt: 'survive', allowed_tools: ['Bash'] }, [
      bash(`env -i PATH=/usr/bin:/bin setsid bash -c 'exec -a ${mark} sleep 300' </dev/null >/dev/null 2>&1 &`),
      bash(`ps -eo args | grep -c '^${mark}'`),
    ]);
    // The control: the detached process really ran, inside the task.
    assertWorked(run.outcomes[1]!, /^[1-9]/);
  } finally {
    // A stop waits until every task's Claude Code process is gone; the sandbox goes with it.
    await h.close();
  }
  const survivors = fs.readdirSync('/proc').filter((pid) => {
    try {
      return /^\d+$/.test(pid) && fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith(mark);
    } catch {
      return false;
    }
  });
  assert.deepEqual(survivors, []);
});

test('WebFetch reaches an allowed host through the egress proxy; Bash through the same proxy reaches no other', async () => {
  const hits: string[] = [];
  const web = http.createServer((req, res) => {
    hits.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>web-page-body</body></html>');
  });
  let connections = 0;
  web.on('connection', () => connections++);
  await new Promise<void>((resolve) => web.listen(0, '127.0.0.2', resolve));
  const port = (web.address() as AddressInfo).port;
  const h = await startBoundaryHarness({ ...SANDBOXED, SWITCHYARD_HTTP_ALLOW: '127.0.0.2' });
  try {
    const viaProxy = (url: string) =>
      bash(
        `exec 3<>/dev/tcp/127.0.0.1/8720; printf 'GET ${url} HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n' >&3; head -1 <&3`,
      );
    const run = await h.run({ prompt: 'web', allowed_tools: ['WebFetch', 'Bash'] }, [
      { name: 'WebFetch', input: { url: `http://127.0.0.2:${port}/fetched`, prompt: 'summarise' } },
      viaProxy(`http://127.0.0.2:${port}/by-bash`),
      viaProxy(`http://127.0.0.3:${port}/internal`),
      viaProxy(`http://169.254.169.254/latest/meta-data/`),
    ]);
    // WebFetch upgrades http to https and this stand-in speaks plain http, so the fetch ends in a TLS
    // error; what matters is that its tunnel reached the allowed host and was not refused on the way.
    assert.doesNotMatch(run.outcomes[0]!.text, /switchyard egress|403/);
    assert.equal(connections, 2, 'the WebFetch tunnel and the Bash request both arrived');
    assert.deepEqual(hits, ['/by-bash']);
    assertWorked(run.outcomes[1]!, /200 OK/);
    assertWorked(run.outcomes[2]!, /403 Forbidden/);
    assertWorked(run.outcomes[3]!, /403 Forbidden/);
  } finally {
    await h.close();
    web.close();
  }
});
