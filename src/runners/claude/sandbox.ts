/**
 * The OS sandbox around a whole Claude Code process (DESIGN.md "The tool boundary"): the gate sees tool
 * calls, but not what Claude Code does by itself (`@` mentions) nor what an allowed command touches. So
 * the process runs under bubblewrap with its own user, PID, IPC, UTS and network namespaces:
 * - it sees only its own processes, and when Claude Code exits the PID namespace dies with everything
 *   it started (no survivor outlives a task, however it detached);
 * - its filesystem is read-only system directories, the task's workspace, its own Claude Code config
 *   dir, a private /tmp, and nothing else: not the data dir, not the server's install, not /proc of the
 *   server, not other workspaces;
 * - its only network is loopback, where a socat forwarder carries the model API to Switchyard's model
 *   proxy over a unix socket bound into the sandbox.
 * Anthropic's sandbox-runtime takes the same approach (bubblewrap plus socat bridges).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

export type SandboxMode = 'auto' | 'required' | 'off';

/** What the server runs tasks under, as /health and each task's `result.policy` report it. */
export interface SandboxStatus {
  mode: SandboxMode;
  active: boolean;
  /** Why the sandbox is not active (absent when it is). */
  reason?: string;
}

/** Where Claude Code reaches the model inside the sandbox (its own network namespace: any port will do). */
export const SANDBOX_MODEL_PORT = 8719;
/** Where Claude Code's HTTP(S)_PROXY points inside the sandbox, for tasks with WebFetch rules. */
export const SANDBOX_EGRESS_PORT = 8720;
/** Where the proxies' unix sockets appear inside the sandbox. */
const MODEL_SOCKET_INSIDE = '/run/switchyard/model.sock';
const EGRESS_SOCKET_INSIDE = '/run/switchyard/egress.sock';
/** The unprivileged identity inside the sandbox. */
const AGENT_UID = 1000;

/** Paths the sandbox needs from the host, fixed when the server starts. */
export interface SandboxHost {
  /** The model proxy's unix socket on the host. */
  modelSocket: string;
  /** A directory holding the sandbox's synthetic passwd and group files. */
  etcDir: string;
}

/** What one task's sandbox holds. */
export interface SandboxTask {
  workspace: string;
  /** The task's own CLAUDE_CONFIG_DIR (also its HOME). */
  configDir: string;
  /** The Claude Code executable (and its script, when it is one), bound read-only at the same paths. */
  executables: string[];
  /** False when no rule lets the agent write: the workspace is then bound read-only. */
  writable: boolean;
  /** The task's egress proxy socket (egress-proxy.ts), when it has WebFetch rules. */
  egressSocket?: string | undefined;
}

// System directories the agent may read. Nothing under /etc is bound whole: inside the user namespace
// the agent owns whatever the server's user owns, so a root server's /etc/shadow would be readable.
const SYSTEM_DIRS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];
const ETC_ENTRIES = [
  'alternatives',
  'ssl',
  'ca-certificates',
  'ca-certificates.conf',
  'ld.so.cache',
  'ld.so.conf',
  'ld.so.conf.d',
  'localtime',
  'nsswitch.conf',
  'hosts',
  'mime.types',
  'bash.bashrc',
  'profile',
];
/** Workspace entries whose contents make code run later: read-only even to the agent's own Bash. */
const CONTROL_ENTRIES = ['.git', '.claude', '.mcp.json'];

/**
 * Starts the forwarders, waits (bounded, without sleeping) until each listens, then becomes Claude
 * Code. /proc/net/tcp lists only this namespace's sockets; state 0A is LISTEN.
 */
function forwarderScript(forwards: Array<[port: number, socket: string]>): string {
  const lines: string[] = [];
  for (const [port, socket] of forwards) {
    const portHex = port.toString(16).toUpperCase().padStart(4, '0');
    // Shell builtins only (no grep per try): each try costs microseconds, not a fork.
    lines.push(
      `socat TCP-LISTEN:${port},bind=127.0.0.1,fork,reuseaddr UNIX-CONNECT:${socket} &`,
      'i=0',
      'until',
      `  l=0; while read -r line; do case $line in *":${portHex} 00000000:0000 0A"*) l=1; break;; esac; done </proc/net/tcp`,
      '  [ "$l" = 1 ]',
      'do',
      '  i=$((i+1)); [ "$i" -gt 1000000 ] && { echo "switchyard: forwarder did not start" >&2; exit 70; }',
      'done',
    );
  }
  lines.push('exec "$@"');
  return lines.join('\n');
}

function bindSystem(args: string[]): void {
  for (const dir of SYSTEM_DIRS) {
    let stat: fs.Stats;
    try {
      stat = fs.lstatSync(dir);
    } catch {
      continue;
    }
    if (stat.isSymbolicLink()) args.push('--symlink', fs.readlinkSync(dir), dir);
    else args.push('--ro-bind', dir, dir);
  }
}

function bindEtc(args: string[], host: SandboxHost): void {
  for (const entry of ETC_ENTRIES) {
    const p = `/etc/${entry}`;
    if (fs.existsSync(p)) args.push('--ro-bind', p, p);
  }
  args.push('--ro-bind', path.join(host.etcDir, 'passwd'), '/etc/passwd');
  args.push('--ro-bind', path.join(host.etcDir, 'group'), '/etc/group');
}

/**
 * The bwrap command line that runs `command args` for one task. Order matters: later mounts cover
 * earlier ones, so the private /tmp comes before a workspace that may lie under /tmp, and the
 * read-only control entries come after the workspace they sit in.
 */
export function sandboxArgv(task: SandboxTask, host: SandboxHost, command: string, args: string[]): string[] {
  const argv = [
    '--unshare-all',
    '--die-with-parent',
    '--new-session',
    '--uid',
    String(AGENT_UID),
    '--gid',
    String(AGENT_UID),
    '--hostname',
    'sandbox',
  ];
  bindSystem(argv);
  bindEtc(argv, host);
  argv.push('--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp', '--tmpfs', '/run');
  for (const file of task.executables) argv.push('--ro-bind', file, file);
  const forwards: Array<[number, string]> = [[SANDBOX_MODEL_PORT, MODEL_SOCKET_INSIDE]];
  argv.push('--ro-bind', host.modelSocket, MODEL_SOCKET_INSIDE);
  if (task.egressSocket) {
    argv.push('--ro-bind', task.egressSocket, EGRESS_SOCKET_INSIDE);
    forwards.push([SANDBOX_EGRESS_PORT, EGRESS_SOCKET_INSIDE]);
  }
  argv.push(task.writable ? '--bind' : '--ro-bind', task.workspace, task.workspace);
  for (const entry of CONTROL_ENTRIES) {
    const p = path.join(task.workspace, entry);
    // A symlink is skipped, never followed: an earlier task could have pointed `.git` at /etc, and
    // binding its target would put the host's /etc into the sandbox. Inside, the link resolves within
    // the sandbox's own filesystem, where nothing outside the workspace is writable anyway.
    if (fs.lstatSync(p, { throwIfNoEntry: false })?.isSymbolicLink() === false) argv.push('--ro-bind', p, p);
  }
  argv.push('--bind', task.configDir, task.configDir);
  argv.push('--chdir', task.workspace);
  argv.push('--', '/bin/sh', '-c', forwarderScript(forwards), 'switchyard-sandbox', command, ...args);
  return argv;
}

const PROXY_VARS = ['HTTPS_PROXY', 'HTTP_PROXY', 'NO_PROXY', 'https_proxy', 'http_proxy', 'no_proxy'];

/**
 * Claude Code's environment inside the sandbox: the model through its forwarder, and the web only
 * through the task's egress proxy (or not at all). The server's own outbound proxy is unreachable
 * from inside, so it is dropped.
 */
export function sandboxEnv(env: Record<string, string>, egress: boolean): Record<string, string> {
  const inside: Record<string, string> = { ...env, ANTHROPIC_BASE_URL: `http://127.0.0.1:${SANDBOX_MODEL_PORT}` };
  for (const name of PROXY_VARS) delete inside[name];
  if (egress) {
    const proxy = `http://127.0.0.1:${SANDBOX_EGRESS_PORT}`;
    Object.assign(inside, { HTTPS_PROXY: proxy, HTTP_PROXY: proxy, https_proxy: proxy, http_proxy: proxy });
    // Claude Code sends every request through HTTP(S)_PROXY, the model's included, unless told not to.
    Object.assign(inside, { NO_PROXY: '127.0.0.1,localhost', no_proxy: '127.0.0.1,localhost' });
  }
  return inside;
}

/** Writes the sandbox's passwd and group: one unprivileged user, nothing of the host's accounts. */
export function prepareSandboxHost(dataDir: string, modelSocket: string): SandboxHost {
  const etcDir = path.join(dataDir, 'sandbox');
  fs.mkdirSync(etcDir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(etcDir, 'passwd'), `agent:x:${AGENT_UID}:${AGENT_UID}:agent:/tmp:/bin/sh\n`);
  fs.writeFileSync(path.join(etcDir, 'group'), `agent:x:${AGENT_UID}:\n`);
  return { etcDir, modelSocket };
}

const run = promisify(execFile);

/**
 * Checks once, at start, that a sandbox can be made here: bubblewrap and socat installed, and user and
 * network namespaces allowed. In `auto` mode a failure means tasks run without it (said loudly);
 * in `required` mode the server refuses to start.
 */
export async function probeSandbox(mode: SandboxMode, env: NodeJS.ProcessEnv = process.env): Promise<SandboxStatus> {
  if (mode === 'off') return { mode, active: false, reason: 'SWITCHYARD_SANDBOX=off' };
  if (process.platform !== 'linux') return { mode, active: false, reason: 'bubblewrap needs Linux' };
  for (const [tool, flag, pkg] of [
    ['bwrap', '--version', 'bubblewrap'],
    ['socat', '-V', 'socat'],
  ]) {
    try {
      await run(tool!, [flag!], { timeout: 10_000, env });
    } catch {
      return { mode, active: false, reason: `${tool} is not installed (Debian/Ubuntu: apt-get install ${pkg})` };
    }
  }
  try {
    const argv = ['--unshare-all', '--die-with-parent', '--uid', String(AGENT_UID), '--gid', String(AGENT_UID)];
    bindSystem(argv);
    await run('bwrap', [...argv, '--proc', '/proc', '--dev', '/dev', '--', '/bin/true'], { timeout: 10_000, env });
  } catch (err) {
    const detail = String((err as { stderr?: string }).stderr ?? (err as Error).message).trim();
    return { mode, active: false, reason: `bubblewrap cannot create namespaces here: ${detail.slice(0, 300)}` };
  }
  return { mode, active: true };
}
