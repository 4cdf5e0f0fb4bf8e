/**
 * Repository checkouts for claude steps, end to end: a loopback smart-HTTP git server standing in for
 * GitHub (token required), real Claude Code against the scripted model, the server's own mirror,
 * checkout, commit and push. The token must never reach the agent, the checkout or the data dir.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ScriptedModel, ScriptRequest, Turn } from '../../src/model/scripted-model.ts';
import { startScriptedModel } from '../../src/model/scripted-model.ts';
import type { RunView } from '../../src/workflow/workflow-api.ts';
import { filesContaining } from '../fixtures/files.ts';
import { type GitServer, startGitServer } from '../fixtures/git-server.ts';
import { type Harness, startHarness } from '../fixtures/harness.ts';
import { startService } from '../scenarios/kit.ts';

const TOKEN = 'ghs_checkoutTestToken_5b1f0c9e2d7a';
const BASIC = Buffer.from(`x-access-token:${TOKEN}`).toString('base64');

/** Each prompt names its scenario; the script plays that scenario's turns and records what the agent saw. */
type Scenario = (req: ScriptRequest) => Turn;
const scenarios = new Map<string, Scenario>();
const seen = new Map<string, string[]>();

function play(req: ScriptRequest): Turn {
  const key = /scenario:(\w+)/.exec(req.prompt)?.[1] ?? '';
  const results = seen.get(key) ?? [];
  if (req.turnIndex > 0) results[req.turnIndex - 1] = req.lastUserText;
  seen.set(key, results);
  const scenario = scenarios.get(key);
  return scenario ? scenario(req) : { text: 'no scenario' };
}

/** Plays `turns` in order, then answers `done`. */
function steps(...turns: Turn[]): Scenario {
  return (req) => turns[req.turnIndex] ?? { text: `done ${req.turnIndex}` };
}

const read = (file_path: string): Turn => ({ tool_use: { name: 'Read', input: { file_path } } });
const bash = (command: string): Turn => ({ tool_use: { name: 'Bash', input: { command, description: 'run' } } });

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(check(), `timed out waiting until ${what}`);
}

describe('repository checkouts', () => {
  let git: GitServer;
  let h: Harness;
  let shas: string[];
  let model: ScriptedModel;

  before(async () => {
    git = await startGitServer(TOKEN);
    shas = git.createRepo('acme', 'widgets', [
      { 'README.md': 'widgets v1\n', 'docs/guide.md': 'Guide v1\n', 'src/app.ts': 'export {};\n' },
      { 'README.md': 'widgets v2\n' },
    ]);
    model = await startScriptedModel(play);
    h = await startHarness({
      model,
      env: {
        SWITCHYARD_HTTP_ALLOW: '127.0.0.1',
        SWITCHYARD_SECRET_GITHUB_TOKEN: TOKEN,
        SWITCHYARD_SECRET_WRONG_TOKEN: 'ghs_wrongWrongWrong_0000',
      },
    });
  });
  after(async () => {
    await h?.close();
    await model?.close();
    await git?.close();
  });

  const repoLine = () => `"${git.url}/{{ inputs.owner }}/{{ inputs.repo }}.git"`;

  async function register(yaml: string): Promise<void> {
    await h.server.workflows.registerWorkflow(yaml);
  }

  async function run(workflow: string, inputs: Record<string, unknown>): Promise<RunView> {
    const { run } = await h.server.workflows.startRun(workflow, inputs);
    const done = await h.server.workflows.waitRun(run.id, 120_000);
    assert.ok(done.status === 'completed' || done.status === 'failed', `run ended: ${done.status}`);
    return done;
  }

  const step = (r: RunView, name: string) => r.steps.find((s) => s.name === name)!;
  const runDir = (r: RunView) => path.join(h.dataDir, 'checkouts', r.id);

  test('the agent sees the repo at a sha and at a branch; the token is in no file, env or config it can read', async () => {
    await register(`
name: review
inputs: {owner: {type: string}, repo: {type: string}, head: {type: string}}
steps:
  review:
    worker: claude
    prompt: "scenario:review {{ inputs.head }}"
    allowed_tools: [Read, Bash(env), Bash(git config --list)]
    workspace:
      repo: ${repoLine()}
      ref: "{{ inputs.head }}"
      credentials: "{{ secrets.GITHUB_TOKEN }}"
`);
    scenarios.set('review', steps(read('README.md'), read('.git/config'), bash('env'), bash('git config --list')));
    const atSha = await run('review', { owner: 'acme', repo: 'widgets', head: shas[0] });
    assert.equal(atSha.status, 'completed', JSON.stringify(atSha.error));
    const [readme, config, env, gitConfig] = seen.get('review')!;
    assert.match(readme!, /widgets v1/);
    assert.match(config!, new RegExp(`url = ${git.url}/acme/widgets.git`));
    for (const text of [config, env, gitConfig]) {
      assert.ok(!text!.includes(TOKEN) && !text!.includes(BASIC), 'the token reached the agent');
    }
    assert.match(env!, /PATH=/, 'the env command ran');
    await until(() => !fs.existsSync(runDir(atSha)), 'the checkout is removed');

    seen.delete('review');
    const atBranch = await run('review', { owner: 'acme', repo: 'widgets', head: 'main' });
    assert.equal(atBranch.status, 'completed', JSON.stringify(atBranch.error));
    assert.match(seen.get('review')![0]!, /widgets v2/);
    // The server fetched with the token, as GitHub wants it; the mirror was cloned once, then fetched.
    assert.ok(
      git.requests.every((r) => r.authorized),
      'every request to the git server carried the token',
    );
    assert.ok(git.requests.filter((r) => r.path.endsWith('/info/refs')).length >= 2);
    await until(() => !fs.existsSync(runDir(atBranch)), 'the checkout is removed');
    const mirrors = fs.readdirSync(path.join(h.dataDir, 'git', 'mirrors'));
    assert.equal(mirrors.length, 1, 'one mirror, kept across runs');
    assert.deepEqual(filesContaining(h.dataDir, [TOKEN, BASIC]), [], 'the token is in no file of the data dir');
  });

  test('the checkout is self-contained and, in the sandbox, the only part of the data dir the agent sees', async () => {
    await register(`
name: confined
inputs: {owner: {type: string}, repo: {type: string}}
steps:
  look:
    worker: claude
    prompt: "scenario:confined"
    allowed_tools: [Bash]
    workspace: {repo: ${repoLine()}, ref: main, credentials: "{{ secrets.GITHUB_TOKEN }}"}
`);
    scenarios.set(
      'confined',
      steps(
        bash(
          `git log --format=%s -1; ls .git/objects/info; cat .git/objects/info/alternates 2>&1; ` +
            `ls ${h.dataDir}/git 2>&1; echo END`,
        ),
      ),
    );
    const r = await run('confined', { owner: 'acme', repo: 'widgets' });
    assert.equal(r.status, 'completed', JSON.stringify(r.error));
    const out = seen.get('confined')![0]!;
    assert.match(out, /commit 2/, 'git works inside the checkout: its objects are its own');
    assert.match(out, /alternates: No such file/, 'no alternates point into the data dir');
    if (h.server.sandbox.active) assert.match(out, /data\/git': No such file/, 'the data dir is not in the sandbox');
    assert.ok(!out.includes(TOKEN) && !out.includes(BASIC));
    const detail = step(r, 'look').output!.detail as { workspace: { repo: string; ref: string; sha: string } };
    assert.deepEqual(detail.workspace, { repo: `${git.url}/acme/widgets.git`, ref: 'main', sha: shas[1] });
  });

  test('a wrong token fails the step with a clear error that does not contain it', async () => {
    await register(`
name: wrong-token
inputs: {owner: {type: string}, repo: {type: string}}
steps:
  review:
    worker: claude
    prompt: "scenario:none"
    workspace:
      repo: ${repoLine()}
      ref: main
      credentials: "{{ secrets.WRONG_TOKEN }}"
`);
    const r = await run('wrong-token', { owner: 'acme', repo: 'widgets' });
    assert.equal(r.status, 'failed');
    const error = step(r, 'review').error!;
    assert.equal(error.kind, 'permission_denied', error.message);
    assert.match(error.message, /refused the credentials/);
    assert.ok(!JSON.stringify(r).includes('ghs_wrongWrongWrong_0000'), 'the wrong token is not in the run');
    assert.ok(!error.message.includes(Buffer.from('x-access-token:ghs_wrongWrongWrong_0000').toString('base64')));
  });

  test('commit and push: an Edit(docs/**) change lands on a new branch, a change outside docs/ is skipped; a later step shares the checkout', async (t) => {
    await register(`
name: docs
inputs: {owner: {type: string}, repo: {type: string}, head: {type: string}}
steps:
  edit:
    worker: claude
    prompt: "scenario:edit"
    allowed_tools: [Read, "Edit(docs/**)", "Bash(touch notes.txt)"]
    workspace:
      repo: ${repoLine()}
      ref: "{{ inputs.head }}"
      credentials: "{{ secrets.GITHUB_TOKEN }}"
    commit:
      branch: "docs/update-{{ run.id }}"
      message: "Update docs for {{ inputs.head }}"
      push: true
  check:
    worker: claude
    depends_on: [edit]
    prompt: "scenario:check"
    allowed_tools: [Read, "Edit(docs/**)"]
    workspace: {from: edit}
    commit: {branch: "docs/followup-{{ run.id }}", message: "Follow-up", push: true}
`);
    const edit = steps(
      read('docs/guide.md'),
      {
        tool_use: {
          name: 'Edit',
          input: { file_path: 'docs/guide.md', old_string: 'Guide v1', new_string: 'Guide v2' },
        },
      },
      bash('touch notes.txt'),
      { text: 'I updated the guide.' },
    );
    // What an agent running code outside a sandbox could do to the checkout's .git: point the push (and
    // its token) at another server, and add a hook. The server commits and pushes from its own mirror.
    const evil = await startService((_req, res) => {
      res.writeHead(500).end();
    });
    const hookRan = path.join(h.dataDir, 'hook-ran');
    t.after(() => evil.close());
    scenarios.set('edit', (req) => {
      if (req.turnIndex === 3) {
        const root = path.join(h.dataDir, 'checkouts');
        const runId = fs.readdirSync(root).find((id) => fs.existsSync(path.join(root, id, 'edit', '.git')));
        const gitDir = path.join(root, runId!, 'edit', '.git');
        fs.appendFileSync(path.join(gitDir, 'config'), `[url "${evil.url}/"]\n\tinsteadOf = ${git.url}/\n`);
        fs.writeFileSync(path.join(gitDir, 'hooks', 'pre-push'), `#!/bin/sh\ntouch ${hookRan}\n`, {
          mode: 0o755,
        });
      }
      return edit(req);
    });
    scenarios.set(
      'check',
      steps(read('docs/guide.md'), {
        tool_use: {
          name: 'Edit',
          input: { file_path: 'docs/guide.md', old_string: 'Guide v2', new_string: 'Guide v3' },
        },
      }),
    );
    const r = await run('docs', { owner: 'acme', repo: 'widgets', head: 'main' });
    assert.equal(r.status, 'completed', JSON.stringify(r.error ?? r.steps.map((s) => s.error)));
    const out = step(r, 'edit').output!;
    assert.equal(out.response, 'I updated the guide.');
    const data = out.data as { commit: string; branch: string; pushed: boolean; files: string[]; skipped: string[] };
    assert.equal(data.branch, `docs/update-${r.id}`);
    assert.equal(data.pushed, true);
    assert.deepEqual(data.files, ['docs/guide.md']);
    assert.deepEqual(data.skipped, ['notes.txt']);
    assert.match(data.commit, /^[0-9a-f]{40}$/);
    // On the server: the branch at that commit, the edit in it, the skipped file not, made by Switchyard.
    assert.equal(git.git('acme', 'widgets', ['rev-parse', `refs/heads/${data.branch}`]).trim(), data.commit);
    assert.equal(git.git('acme', 'widgets', ['show', `${data.commit}:docs/guide.md`]), 'Guide v2\n');
    assert.equal(git.git('acme', 'widgets', ['ls-tree', '--name-only', data.commit]).includes('notes.txt'), false);
    assert.equal(
      git.git('acme', 'widgets', ['log', '-1', '--format=%an <%ae>|%s', data.commit]).trim(),
      'Switchyard <switchyard@localhost>|Update docs for main',
    );
    assert.equal(git.git('acme', 'widgets', ['rev-parse', 'refs/heads/main']).trim(), shas[1], 'main is untouched');
    // The second step worked in the same checkout, and its commit builds on the first.
    assert.match(seen.get('check')![0]!, /Guide v2/);
    const followup = step(r, 'check').output!.data as { commit: string; files: string[]; skipped: string[] };
    assert.deepEqual([followup.files, followup.skipped], [['docs/guide.md'], ['notes.txt']]);
    assert.equal(git.git('acme', 'widgets', ['rev-parse', `${followup.commit}^`]).trim(), data.commit);
    assert.equal(git.git('acme', 'widgets', ['show', `${followup.commit}:docs/guide.md`]), 'Guide v3\n');
    await until(() => !fs.existsSync(runDir(r)), 'the checkout is removed after success');
    assert.equal(evil.requests.length, 0, "the checkout's .git/config played no part in the push");
    assert.equal(fs.existsSync(hookRan), false, "the checkout's hooks never run");
  });

  test('nothing to commit is said, not an error', async () => {
    await register(`
name: noop
inputs: {owner: {type: string}, repo: {type: string}}
steps:
  edit:
    worker: claude
    prompt: "scenario:noop"
    allowed_tools: [Read]
    workspace: {repo: ${repoLine()}, ref: main, credentials: "{{ secrets.GITHUB_TOKEN }}"}
    commit: {branch: "noop-{{ run.id }}", message: "nothing", push: true}
`);
    scenarios.set('noop', steps({ text: 'Nothing to change.' }));
    const r = await run('noop', { owner: 'acme', repo: 'widgets' });
    assert.equal(r.status, 'completed', JSON.stringify(r.error));
    const data = step(r, 'edit').output!.data as Record<string, unknown>;
    assert.equal(data.commit, null);
    assert.equal(data.pushed, false);
    assert.equal(data.note, 'nothing to commit');
  });

  test('a commit never goes to the branch checked out or the default branch', async () => {
    await register(`
name: to-main
inputs: {owner: {type: string}, repo: {type: string}, head: {type: string}, branch: {type: string}}
steps:
  edit:
    worker: claude
    prompt: "scenario:none"
    workspace: {repo: ${repoLine()}, ref: "{{ inputs.head }}", credentials: "{{ secrets.GITHUB_TOKEN }}"}
    commit: {branch: "{{ inputs.branch }}", message: x, push: true}
`);
    for (const [head, branch] of [
      ['main', 'main'],
      [shas[1], 'main'],
      ['main', '-f'],
    ]) {
      const r = await run('to-main', { owner: 'acme', repo: 'widgets', head, branch });
      const error = step(r, 'edit').error!;
      assert.equal(error.field, 'steps.edit.commit.branch', `${head} → ${branch}: ${error.message}`);
    }
    assert.equal(git.git('acme', 'widgets', ['rev-parse', 'refs/heads/main']).trim(), shas[1]);
  });

  test('keep: on_failure keeps the checkout of a failed run', async () => {
    await register(`
name: keeper
inputs: {owner: {type: string}, repo: {type: string}}
steps:
  work:
    worker: claude
    prompt: "scenario:fail"
    allowed_tools: [Read]
    max_turns: 1
    workspace: {repo: ${repoLine()}, ref: main, credentials: "{{ secrets.GITHUB_TOKEN }}", keep: on_failure}
`);
    scenarios.set('fail', steps(read('README.md'), read('README.md'), read('README.md')));
    const r = await run('keeper', { owner: 'acme', repo: 'widgets' });
    assert.equal(r.status, 'failed');
    await until(() => fs.existsSync(path.join(runDir(r), '.kept')), 'the checkout is marked kept');
    assert.equal(fs.readFileSync(path.join(runDir(r), 'work', 'README.md'), 'utf8'), 'widgets v2\n');
  });

  test('a cancelled run loses its checkout once the agent has stopped', async () => {
    await register(`
name: cancelled
inputs: {owner: {type: string}, repo: {type: string}}
steps:
  work:
    worker: claude
    prompt: "scenario:hang"
    allowed_tools: [Read]
    workspace: {repo: ${repoLine()}, ref: main, credentials: "{{ secrets.GITHUB_TOKEN }}"}
`);
    let started: () => void = () => {};
    const agentStarted = new Promise<void>((resolve) => {
      started = resolve;
    });
    scenarios.set('hang', () => {
      started();
      return { hang: true };
    });
    const { run: r } = await h.server.workflows.startRun('cancelled', { owner: 'acme', repo: 'widgets' });
    await agentStarted;
    assert.ok(fs.existsSync(path.join(runDir(r), 'work', 'README.md')), 'the agent runs in the checkout');
    await h.server.workflows.cancelRun(r.id);
    const done = await h.server.workflows.waitRun(r.id, 60_000);
    assert.equal(done.status, 'failed');
    assert.equal(step(done, 'work').error?.kind, 'cancelled');
    await until(() => !fs.existsSync(runDir(r)), 'the checkout is removed');
  });

  test('refs that git could read as options or paths are refused before git runs', async () => {
    await register(`
name: refs
inputs: {owner: {type: string}, repo: {type: string}, head: {type: string}}
steps:
  review:
    worker: claude
    prompt: "scenario:none"
    workspace: {repo: ${repoLine()}, ref: "{{ inputs.head }}", credentials: "{{ secrets.GITHUB_TOKEN }}"}
`);
    const before = git.requests.length;
    for (const head of ['--upload-pack=touch /tmp/pwned', '-x', '../etc', 'a..b', 'main:refs/heads/x']) {
      const r = await run('refs', { owner: 'acme', repo: 'widgets', head });
      const error = step(r, 'review').error!;
      assert.equal(error.kind, 'validation', head);
      assert.equal(error.field, 'steps.review.workspace.ref', head);
    }
    assert.equal(git.requests.length, before, 'git never ran');
    // A repo path from input is percent-encoded (`/` cannot be injected), and a `..` segment is refused.
    for (const owner of ['..', '.', 'a/../../b']) {
      const r = await run('refs', { owner, repo: 'widgets', head: 'main' });
      const error = step(r, 'review').error!;
      assert.equal(error.field, 'steps.review.workspace.repo', `${owner}: ${error.message}`);
    }
    assert.equal(git.requests.length, before, 'git never ran');
  });

  test('registration refuses a host from input, a literal token, cwd with workspace, a shared checkout not upstream', async () => {
    const cases: Array<[string, RegExp]> = [
      [
        `workspace: {repo: "https://{{ inputs.host }}/a/b.git", ref: main}`,
        /steps\.s\.workspace\.repo|workspace\.repo must be an https:\/\/ URL whose scheme and host are literal/,
      ],
      [`workspace: {repo: "https://github.com{{ inputs.host }}/b.git", ref: main}`, /scheme and host are literal/],
      [`workspace: {repo: "https://github.com/a/b.git", ref: main, credentials: "ghp_literal"}`, /secrets\.NAME/],
      [`workspace: {repo: "https://github.com/a/b.git", ref: "--upload-pack=x"}`, /must not start with "-"/],
      [
        `cwd: sub\n    workspace: {repo: "https://github.com/a/b.git", ref: main}`,
        /cannot be set together with workspace/,
      ],
      [`commit: {branch: x, message: y}`, /needs a workspace/],
      [
        `workspace: {repo: "https://github.com/a/b.git", ref: main, credentials: "{{ secrets.NOPE }}"}`,
        /workspace\.credentials names the secret NOPE, which is not set/,
      ],
      [`workspace: {repo: "https://github.com/{{ secrets.GITHUB_TOKEN }}/b.git", ref: main}`, /renders a secret/],
      [
        `workspace: {repo: "https://github.com/a/b.git", ref: main, keep: always}`,
        /keep must be one of never, on_failure/,
      ],
      [`workspace: {repo: "https://github.com/a/b.git"}`, /workspace\.ref is required/],
      [`workspace: {from: other}`, /not upstream/],
      [
        `depends_on: [other]\n    workspace: {from: other}\n  t: {worker: claude, prompt: hi, depends_on: [other], workspace: {from: other}}`,
        /shares the checkout of "other" with step "t", and neither depends on the other/,
      ],
    ];
    for (const [fields, message] of cases) {
      const yaml = `
name: bad
inputs: {host: {type: string, default: x}}
steps:
  other: {worker: claude, prompt: hi, workspace: {repo: "https://github.com/a/b.git", ref: main}}
  s:
    worker: claude
    prompt: hi
    ${fields}
`;
      const res = await h.fetch('/v1/workflows', {
        method: 'POST',
        body: yaml,
        headers: { 'content-type': 'application/yaml' },
      });
      const body = (await res.json()) as { error: { kind: string; message: string; field: string } };
      assert.equal(res.status, 400, `${fields}: ${JSON.stringify(body)}`);
      assert.match(body.error.message, message, fields);
      assert.match(body.error.field, /^steps\.s\./, fields);
    }
  });
});
