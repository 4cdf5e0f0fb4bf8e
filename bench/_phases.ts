import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { query, type SDKMessage } from '@anthropic-ai/claude-agent-sdk';
import { startScriptedModel } from '../src/model/scripted-model.ts';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.ts';
import { ProcessTree } from '../src/runners/claude/process-tree.ts';
import { claudeEnv, startBenchServer, summarize, tempDir } from './lib.ts';
const N = Number(process.argv[2] ?? 12);
let ph: Record<string, number> = {};
const at = (k: string) => { ph[k] ??= performance.now(); };
const sp: any = SqliteStore.prototype;
const oClaim = sp.claimNextTask; sp.claimNextTask = function (...a: any[]) { const r = oClaim.apply(this, a); r.then((t: any) => t && at('start')); return r; };
const oApp = sp.appendEvents; sp.appendEvents = function (ev: any[]) { for (const e of ev) { if (e.data?.subtype === 'init') at('init'); if (e.type === 'result') at('result'); } return oApp.call(this, ev); };
const pk: any = ProcessTree.prototype; const oKill = pk.kill; pk.kill = function () { at('end'); return oKill.call(this); };
const model = await startScriptedModel((req) => { at('model'); return { text: 'Done.' }; });
const b = await startBenchServer(model.url);
const cr = tempDir();
const S: Record<string, number[]> = {}; const D: Record<string, number[]> = {};
const push = (o: Record<string, number[]>, k: string, v: number) => (o[k] ??= []).push(v);
async function server(i: number) {
  ph = {}; const t0 = performance.now();
  const r = await fetch(`${b.url}/v1/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'x' + i }) });
  const { id } = (await r.json()) as any;
  const t = (await (await fetch(`${b.url}/v1/tasks/${id}?wait=60`)).json()) as any;
  const t1 = performance.now(); if (t.status !== 'completed') throw new Error(i + JSON.stringify(t.error));
  push(S, 'POST→start', ph.start! - t0); push(S, 'start→init', ph.init! - ph.start!); push(S, 'init→model', ph.model! - ph.init!);
  push(S, 'model→result', ph.result! - ph.model!); push(S, 'result→end', ph.end! - ph.result!); push(S, 'end→client', t1 - ph.end!); push(S, 'total', t1 - t0);
}
async function direct(i: number) {
  ph = {}; const t0 = performance.now(); const configDir = path.join(cr, String(i)); fs.mkdirSync(configDir);
  for await (const m of query({ prompt: 'x' + i, options: { cwd: b.workspace, tools: [], allowedTools: [], permissionMode: 'default', settingSources: [], env: claudeEnv(configDir, model.url), canUseTool: async (_n, input) => ({ behavior: 'allow', updatedInput: input }), systemPrompt: { type: 'preset', preset: 'claude_code' } } }) as AsyncIterable<SDKMessage>) {
    if (m.type === 'system' && m.subtype === 'init') at('init'); if (m.type === 'result') at('result');
  }
  const t1 = performance.now();
  push(D, 'start→init', ph.init! - t0); push(D, 'init→model', ph.model! - ph.init!); push(D, 'model→result', ph.result! - ph.model!); push(D, 'result→end', t1 - ph.result!); push(D, 'total(result)', ph.result! - t0);
}
for (let i = 0; i < N; i++) { if (i % 2) { await server(i); await direct(i); } else { await direct(i); await server(i); } }
for (const [name, o] of [['server', S], ['direct', D]] as const) for (const [k, v] of Object.entries(o)) { const s = summarize(v.slice(2)); console.log(name.padEnd(7), k.padEnd(14), 'p50', s.p50.toFixed(1), 'mean', s.mean.toFixed(1), 'min', s.min.toFixed(1)); }
await b.close(); await model.close();
