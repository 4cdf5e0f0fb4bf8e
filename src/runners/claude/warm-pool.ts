/**
 * Warm spares: Claude Code processes started ahead of the task they will serve (the SDK's prewarm()),
 * so a task skips the ~1 s start. A spare is a process prepared exactly as a cold one is
 * (claude-process.ts: same sandbox, token, tools and gate), keyed by everything fixed at spawn, and
 * claimed by one task only; its config dir becomes that task's. Spares are parked where demand was
 * seen (a cold start, or a claim that used one up), up to a cap and while memory allows, and retired
 * when they idle too long.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { prewarm, type Query, type SpareProcess } from '@anthropic-ai/claude-agent-sdk';
import type { Semaphore } from './admission.ts';
import {
  type ClaudeProcess,
  endProcess,
  type ProcessOptions,
  type ProcessSpec,
  prepareProcess,
} from './claude-process.ts';
import { formatRule } from './policy.ts';

/** A parked Claude Code process holds about this much memory (measured: 169–260 MiB). */
const MEMORY_PER_SPARE = 260 * 1024 * 1024;

export interface WarmPoolOptions {
  /** Most spares parked or starting at once; 0 turns the pool off. */
  cap: number;
  /** A spare unclaimed this long is retired (ms). */
  idleMs: number;
  /** Where spares' config dirs live (the data dir's `claude/`). */
  configRoot: string;
  process: ProcessOptions;
  /** Spares start through the same gate as cold starts, so prewarming never thrashes a burst. */
  startGate?: Semaphore | undefined;
  /** Free memory now, in bytes (a test can pretend the machine is full). */
  freeMemory?: () => number;
  onError?: (err: unknown) => void;
}

/** What a task asks of its process; `resume` and an existing config dir mean it cannot use a spare. */
export interface WarmRequest extends ProcessSpec {
  prompt: string;
  system_prompt_append?: string | undefined;
  resume?: string | undefined;
}

export interface WarmClaim {
  proc: ClaudeProcess;
  messages: Query;
}

interface Spare {
  key: string;
  proc: ClaudeProcess;
  sdk: SpareProcess;
  configDir: string;
  retire: NodeJS.Timeout;
}

const SYSTEM_PROMPT = { type: 'preset', preset: 'claude_code' } as const;

/** A parked process answers a claim in one round trip; one that does not is discarded, the task starts cold. */
const CLAIM_TIMEOUT_MS = 10_000;

function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`claim_timeout: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** Everything a process is fixed to at spawn, apart from its own config dir. */
function keyOf(spec: ProcessSpec): string {
  return JSON.stringify([
    spec.cwd,
    spec.policy.rules.map(formatRule),
    spec.model ?? null,
    spec.max_turns ?? null,
    spec.max_budget_usd ?? null,
    spec.output_schema ?? null,
  ]);
}

export class WarmPool {
  readonly #options: WarmPoolOptions;
  readonly #parked: Spare[] = [];
  #starting = 0;
  #settled: Array<() => void> = [];
  #closed = false;
  #counter = 0;
  /** Shapes in demand while other starts were under way, by key: parked once starting is idle. */
  readonly #pending = new Map<string, ProcessSpec>();

  constructor(options: WarmPoolOptions) {
    this.#options = options;
    options.startGate?.onFree(() => this.#parkPending());
  }

  get parked(): number {
    return this.#parked.length;
  }

  /**
   * A parked spare for this request, bound to it and sent its prompt; undefined when none fits or the
   * spare refused the claim (then start cold). Either way, demand for this key is noted.
   */
  async claim(request: WarmRequest): Promise<WarmClaim | undefined> {
    if (this.#options.cap === 0 || request.resume || fs.existsSync(request.configDir)) return undefined;
    const key = keyOf(request);
    const at = this.#parked.findIndex((spare) => spare.key === key);
    if (at < 0) {
      // The task starts cold now: its own start goes first, and the spare follows once the start
      // gate is free again (or at once where there is no gate).
      if (this.#options.startGate) this.#defer(key, request);
      else this.#replenish(request);
      return undefined;
    }
    const [spare] = this.#parked.splice(at, 1);
    clearTimeout(spare!.retire);
    this.#replenish(request);
    // The spare's config dir becomes the task's, so a follow-up resumes from it like any task.
    try {
      fs.symlinkSync(spare!.configDir, request.configDir);
    } catch (err) {
      await this.#discard(spare!.proc, spare!.configDir);
      this.#options.onError?.(err);
      return undefined;
    }
    let messages: Query | undefined;
    try {
      messages = spare!.sdk.claim({
        prompt: request.prompt,
        options: {
          cwd: request.cwd,
          ...(request.model ? { model: request.model } : {}),
          ...(request.system_prompt_append ? { appendSystemPrompt: request.system_prompt_append } : {}),
        },
      });
      await withDeadline(spare!.sdk.claimed, CLAIM_TIMEOUT_MS);
    } catch (err) {
      // `option_not_applied` alone means the prompt runs anyway (without a model it refused).
      if (messages === undefined || !String((err as Error).message).startsWith('option_not_applied')) {
        fs.rmSync(request.configDir, { force: true });
        await this.#discard(spare!.proc, spare!.configDir);
        return undefined;
      }
    }
    return messages && { proc: spare!.proc, messages };
  }

  /**
   * Parks one spare for this request's key when the cap and memory allow. A start costs ~1.5 CPU-s:
   * while tasks are starting (a burst), a spare would only take CPU from them, so it waits until
   * nothing else is starting.
   */
  #replenish(spec: ProcessSpec): void {
    const { cap, freeMemory = os.freemem, startGate } = this.#options;
    if (this.#closed || this.#parked.length + this.#starting >= cap) return;
    if (freeMemory() < 2 * MEMORY_PER_SPARE) return;
    if (startGate && (startGate.inUse > 0 || startGate.waiting > 0)) {
      this.#defer(keyOf(spec), spec);
      return;
    }
    this.#starting++;
    void this.#park(spec)
      .catch((err) => this.#options.onError?.(err))
      .finally(() => {
        if (--this.#starting === 0) for (const resolve of this.#settled.splice(0)) resolve();
      });
  }

  /** Remembers a shape in demand, the most recent few (no more than could be parked). */
  #defer(key: string, spec: ProcessSpec): void {
    this.#pending.delete(key);
    this.#pending.set(key, spec);
    if (this.#pending.size > this.#options.cap) this.#pending.delete(this.#pending.keys().next().value!);
  }

  #parkPending(): void {
    const gate = this.#options.startGate;
    const next = this.#pending.entries().next().value;
    if (!next || (gate && (gate.inUse > 0 || gate.waiting > 0))) return;
    this.#pending.delete(next[0]);
    this.#replenish(next[1]);
  }

  /** Resolves once no spare is starting (every one asked for is parked, or failed). */
  settled(): Promise<void> {
    return this.#starting === 0 ? Promise.resolve() : new Promise((resolve) => this.#settled.push(resolve));
  }

  async #park(spec: ProcessSpec): Promise<void> {
    const configDir = path.join(this.#options.configRoot, `spare-${process.pid}-${Date.now()}-${this.#counter++}`);
    const proc = await prepareProcess(
      {
        policy: spec.policy,
        cwd: spec.cwd,
        configDir,
        model: spec.model,
        max_turns: spec.max_turns,
        max_budget_usd: spec.max_budget_usd,
        output_schema: spec.output_schema,
      },
      this.#options.process,
    );
    const gate = this.#options.startGate;
    await gate?.acquire();
    let sdk: SpareProcess;
    try {
      sdk = await prewarm({ options: { ...proc.sdkOptions, systemPrompt: SYSTEM_PROMPT } });
    } catch (err) {
      await this.#discard(proc, configDir);
      throw err;
    } finally {
      gate?.release();
    }
    if (this.#closed) {
      await this.#discard(proc, configDir);
      return;
    }
    const spare: Spare = {
      key: keyOf(spec),
      proc,
      sdk,
      configDir,
      retire: setTimeout(() => void this.#retire(spare), this.#options.idleMs),
    };
    spare.retire.unref();
    this.#parked.push(spare);
    // A spare that dies while parked is dropped, so a claim never finds a dead one.
    void proc.tree.exited.then(() => {
      const at = this.#parked.indexOf(spare);
      if (at >= 0) {
        this.#parked.splice(at, 1);
        clearTimeout(spare.retire);
      }
    });
  }

  async #retire(spare: Spare): Promise<void> {
    const at = this.#parked.indexOf(spare);
    if (at >= 0) this.#parked.splice(at, 1);
    await this.#discard(spare.proc, spare.configDir);
  }

  async #discard(proc: ClaudeProcess, configDir: string): Promise<void> {
    await endProcess(proc);
    // Claude Code writes into its config dir until it is gone.
    if (proc.tree.started) await proc.tree.exited;
    fs.rmSync(configDir, { recursive: true, force: true });
  }

  /** Ends every spare, parked or still starting; none is started afterwards. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#pending.clear();
    await this.settled();
    await Promise.all([...this.#parked].map((spare) => this.#retire(spare)));
  }
}
