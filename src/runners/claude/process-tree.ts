/**
 * Ends everything a task started. Claude Code starts its Bash tool's shells in new process groups,
 * so killing Claude Code's group is not enough (a test caught the orphaned shell). Every process of
 * the task inherits a marker variable; at the end we find the task's processes by parentage and by
 * that marker (which survives reparenting to init), freeze them all, then kill them all, so none
 * can fork a new child in between.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import type { SpawnedProcess, SpawnOptions } from '@anthropic-ai/claude-agent-sdk';

const MARK_VAR = 'SWITCHYARD_TASK_MARK';
/** Names the server instance's data dir, so a restart can find what a crashed predecessor left. */
const OWNER_VAR = 'SWITCHYARD_TASK_OWNER';

interface ProcInfo {
  pid: number;
  ppid: number;
  zombie: boolean;
}

function readProcs(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      // The command name may hold spaces and parens: fields start after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.push({ pid: Number(name), ppid: Number(fields[1]), zombie: fields[0] === 'Z' });
    } catch {
      // Exited while we looked.
    }
  }
  return out;
}

function hasVar(pid: number, name: string, value: string): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/environ`, 'utf8').includes(`\0${name}=${value}\0`);
  } catch {
    return false;
  }
}

/** Live processes of the tree under `root`, plus any process carrying the marker. */
export function findTaskProcesses(root: number | undefined, mark: string): number[] {
  const procs = readProcs().filter((p) => !p.zombie && p.pid !== process.pid);
  const found = new Set<number>();
  if (root !== undefined && procs.some((p) => p.pid === root)) found.add(root);
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of procs) {
      if (!found.has(p.pid) && found.has(p.ppid)) {
        found.add(p.pid);
        grew = true;
      }
    }
  }
  for (const p of procs) if (!found.has(p.pid) && hasVar(p.pid, MARK_VAR, mark)) found.add(p.pid);
  return [...found];
}

function signalAll(pids: number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
}

/**
 * At start-up, before any task runs: kills the processes of tasks that a crashed (kill -9) earlier
 * run of the same data dir left behind. Returns how many it found.
 */
export function killOrphans(owner: string): number {
  if (process.platform !== 'linux') return 0;
  const pids = readProcs()
    .filter((p) => !p.zombie && p.pid !== process.pid && hasVar(p.pid, OWNER_VAR, owner))
    .map((p) => p.pid);
  signalAll(pids, 'SIGSTOP');
  signalAll(pids, 'SIGKILL');
  return pids.length;
}

/** Turns the command the SDK wants to run into the one actually started (the sandbox's bwrap). */
export type CommandWrapper = (command: string, args: string[]) => { command: string; args: string[] };

export class ProcessTree {
  readonly mark: string;
  readonly #owner: string;
  readonly #wrap: CommandWrapper | undefined;
  #child: ChildProcess | undefined;
  #exit: () => void = () => {};
  /** True once the root process was spawned. */
  get started(): boolean {
    return this.#child !== undefined;
  }

  /** Settles when the spawned root process exits (never, if none was spawned: see `started`). */
  readonly exited = new Promise<void>((resolve) => {
    this.#exit = resolve;
  });

  constructor(owner: string, wrap?: CommandWrapper, mark = randomUUID()) {
    this.#owner = owner;
    this.#wrap = wrap;
    this.mark = mark;
  }

  /** Passed to the SDK as `spawnClaudeCodeProcess`. */
  readonly spawn = (options: SpawnOptions): SpawnedProcess => {
    const { command, args } = this.#wrap?.(options.command, options.args) ?? options;
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: { ...options.env, [MARK_VAR]: this.mark, [OWNER_VAR]: this.#owner },
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
      signal: options.signal,
    });
    this.#child = child;
    child.once('exit', () => this.#exit());
    child.once('error', () => this.#exit());
    // Without a reader the pipe fills and the child blocks; stderr is diagnostics only.
    child.stderr?.resume();
    return child as unknown as SpawnedProcess;
  };

  /** Kills every process of the task. Safe to call more than once and after everything exited. */
  kill(): void {
    const root = this.#child?.pid;
    if (root === undefined) return;
    try {
      process.kill(-root, 'SIGKILL');
    } catch {
      // The group is already gone.
    }
    if (process.platform !== 'linux') return;
    for (let round = 0; round < 5; round++) {
      const pids = findTaskProcesses(root, this.mark);
      if (pids.length === 0) return;
      signalAll(pids, 'SIGSTOP');
      signalAll(findTaskProcesses(root, this.mark), 'SIGSTOP');
      signalAll(findTaskProcesses(root, this.mark), 'SIGKILL');
    }
  }
}
