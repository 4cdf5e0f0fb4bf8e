/**
 * Claude Code runs as its own process group, so that ending a task also ends everything it started
 * (a Bash tool's `sleep`, a test runner's children): one kill of the group leaves no orphans.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { SpawnedProcess, SpawnOptions } from '@anthropic-ai/claude-agent-sdk';

export class ProcessGroup {
  #child: ChildProcess | undefined;

  /** Passed to the SDK as `spawnClaudeCodeProcess`. */
  readonly spawn = (options: SpawnOptions): SpawnedProcess => {
    const child = spawn(options.command, options.args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
      signal: options.signal,
    });
    this.#child = child;
    // Without a reader the pipe fills and the child blocks; stderr is diagnostics only.
    child.stderr?.resume();
    return child as unknown as SpawnedProcess;
  };

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Kills the whole group. Safe to call more than once and after the process has exited. */
  kill(): void {
    const pid = this.#child?.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // ESRCH: the group is already gone.
    }
  }
}
