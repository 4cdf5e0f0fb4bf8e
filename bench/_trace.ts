import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { startScriptedModel } from '../src/model/scripted-model.ts';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.ts';
import { ProcessTree } from '../src/runners/claude/process-tree.ts';
import { startBenchServer } from './lib.ts';

let T0 = 0;
const log: string[] = [];
const mark = (s: string) => log.push(`${(performance.now() - T0).toFixed(1).padStart(8)} ${s}`);
function wrap(proto: any, name: string, label: (args: any[]) => string) {
  const orig = proto[name];
  proto[name] = function (...args: any[]) {
    const l = label(args);
    mark(`${name} call ${l}`);
    const r = orig.apply(this, args);
    if (r && typeof r.then === 'function') r.then(() => mark(`${name} done ${l}`));
    else mark(`${name} done(sync) ${l}`);
    return r;
  };
}
wrap(SqliteStore.prototype, 'appendEvents', (a) => a[0].map((e: any) => e.type + (e.data?.subtype ? '/' + e.data.subtype : '')).join(','));
wrap(SqliteStore.prototype, 'finishTask', () => '');
wrap(SqliteStore.prototype, 'claimNextTask', () => '');
wrap(SqliteStore.prototype, 'createTask', () => '');
wrap(SqliteStore.prototype, 'setAgentSession', () => '');
wrap(ProcessTree.prototype, 'kill', () => '');

const model = await startScriptedModel((req) => { mark(`model request turn ${req.turnIndex}`); return { text: 'Done.' }; });
const b = await startBenchServer(model.url);
for (let i = 0; i < 3; i++) {
  log.length = 0;
  T0 = performance.now();
  const r = await fetch(`${b.url}/v1/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'x' + i }) });
  const { id } = (await r.json()) as any;
  mark('POST answered');
  const t = (await (await fetch(`${b.url}/v1/tasks/${id}?wait=60`)).json()) as any;
  mark('long-poll answered ' + t.status + JSON.stringify(t.error)); console.log(log.join('\n')); log.length=0;
}
console.log(log.join('\n'));
await b.close(); await model.close();
