/**
 * Shared by the benchmarks: percentiles, the machine line every script prints, temp dirs that are
 * removed on exit, integer knobs from argv/env, and a Switchyard started in-process on loopback.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Config, loadConfig } from '../src/config.ts';
import { type RunningServer, startServer } from '../src/main.ts';

export interface Summary {
  n: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentile of an ascending array (p in 0..100). */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function summarize(values: number[]): Summary {
  const s = [...values].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / (s.length || 1);
  return {
    n: s.length,
    min: s[0] ?? Number.NaN,
    mean,
    p50: percentile(s, 50),
    p90: percentile(s, 90),
    p99: percentile(s, 99),
    max: s.at(-1) ?? Number.NaN,
  };
}

/** Milliseconds with a precision that suits the magnitude. */
export function ms(v: number): string {
  if (!Number.isFinite(v)) return '-';
  if (v >= 100) return `${v.toFixed(0)} ms`;
  if (v >= 10) return `${v.toFixed(1)} ms`;
  return `${v.toFixed(2)} ms`;
}

/** One row: label, then the chosen statistics. */
export function row(label: string, s: Summary, keys: Array<keyof Summary> = ['p50', 'p90', 'max']): string {
  const cells = keys.map((k) => `${k} ${k === 'n' ? String(s.n) : ms(s[k])}`.padEnd(16));
  return `  ${label.padEnd(44)} n=${String(s.n).padEnd(5)} ${cells.join(' ')}`;
}

/** The machine the figures were measured on; every benchmark prints it first. */
export function machineInfo(): string {
  const cpus = os.cpus();
  return [
    `machine: ${cpus[0]?.model ?? 'unknown cpu'} × ${cpus.length} (available parallelism ${os.availableParallelism()})`,
    `         ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${os.type()} ${os.release()} ${os.arch()}, node ${process.version}`,
  ].join('\n');
}

export function header(title: string): void {
  console.log(`== ${title}`);
  console.log(machineInfo());
  console.log(`date:    ${new Date().toISOString()}`);
  console.log(`load:    ${loadLine()}`);
}

/** Other work on a 2-core box skews every figure here; print the load so a reader can tell. */
export function loadLine(): string {
  const [one, five] = os.loadavg();
  const busy = one! > 0.5 * os.availableParallelism();
  return `load average ${one!.toFixed(2)} (1 min), ${five!.toFixed(2)} (5 min)${busy ? ' — machine busy: figures skewed' : ''}`;
}

/** An integer knob: `--name=V` on the command line, else the BENCH_NAME variable, else the default. */
export function intArg(name: string, fallback: number): number {
  const flag = process.argv.find((a) => a.startsWith(`--${name}=`));
  const raw = flag ? flag.slice(name.length + 3) : process.env[`BENCH_${name.toUpperCase().replaceAll('-', '_')}`];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got ${raw}`);
  return n;
}

const tempDirs = new Set<string>();
let cleanupHooked = false;

function removeTempDirs(): void {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

/** A fresh real directory, removed by `cleanupTempDirs()` or, at the latest, when the process exits. */
export function tempDir(prefix = 'switchyard-bench-'): string {
  if (!cleanupHooked) {
    cleanupHooked = true;
    process.once('exit', removeTempDirs);
  }
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
  tempDirs.add(dir);
  return dir;
}

export function cleanupTempDirs(): void {
  removeTempDirs();
}

/** The variables every benchmark's Claude Code gets, as run-claude.ts sets them for a task. */
export function claudeEnv(configDir: string, modelUrl: string): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    LANG: process.env.LANG ?? 'C.UTF-8',
    HOME: configDir,
    CLAUDE_CONFIG_DIR: configDir,
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_AUTOUPDATER: '1',
    DISABLE_TELEMETRY: '1',
    DISABLE_ERROR_REPORTING: '1',
    CLAUDE_CODE_MAX_RETRIES: '0',
    ANTHROPIC_BASE_URL: modelUrl,
    ANTHROPIC_API_KEY: 'sk-ant-bench-key-not-secret',
  };
}

export interface BenchServer {
  server: RunningServer;
  config: Config;
  url: string;
  workspace: string;
  dataDir: string;
  close(): Promise<void>;
}

/** A real Switchyard in this process on 127.0.0.1, with its own data dir and workspace. */
export async function startBenchServer(modelUrl: string, env: Record<string, string> = {}): Promise<BenchServer> {
  const root = tempDir();
  const workspace = path.join(root, 'workspace');
  const dataDir = path.join(root, 'data');
  fs.mkdirSync(workspace);
  const config = loadConfig(
    {
      SWITCHYARD_HOST: '127.0.0.1',
      SWITCHYARD_PORT: '0',
      SWITCHYARD_DATA_DIR: dataDir,
      SWITCHYARD_WORKSPACE_ROOTS: workspace,
      SWITCHYARD_LOG_LEVEL: 'silent',
      SWITCHYARD_CONCURRENCY: '2',
      ANTHROPIC_BASE_URL: modelUrl,
      ANTHROPIC_API_KEY: 'sk-ant-bench-key-not-secret',
      ...env,
    },
    {},
    root,
  );
  const server = await startServer(config);
  return {
    server,
    config,
    url: server.url,
    workspace,
    dataDir,
    async close() {
      await server.close(5000);
      fs.rmSync(root, { recursive: true, force: true });
      tempDirs.delete(root);
    },
  };
}

/** Resolves after `ms`; benchmarks may sleep, tests may not (STYLE.md 9). */
export const sleep = (msec: number) => new Promise<void>((r) => setTimeout(r, msec));
