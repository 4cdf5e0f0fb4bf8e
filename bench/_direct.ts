import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { query, type SDKMessage } from '@anthropic-ai/claude-agent-sdk';
import { startScriptedModel } from '../src/model/scripted-model.ts';
import { claudeEnv, tempDir } from './lib.ts';
let T0 = 0;
const log: string[] = [];
const mark = (s: string) => log.push(`${(performance.now() - T0).toFixed(1).padStart(8)} ${s}`);
const model = await startScriptedModel((req) => { mark(`model request turn ${req.turnIndex}`); return { text: 'Done.' }; });
const ws = tempDir(); const cr = tempDir();
for (let i = 0; i < 4; i++) {
  log.length = 0; T0 = performance.now();
  const configDir = path.join(cr, String(i)); fs.mkdirSync(configDir);
  for await (const m of query({ prompt: 'x' + i, options: { cwd: ws, tools: [], allowedTools: [], permissionMode: 'default', settingSources: [], env: claudeEnv(configDir, model.url), canUseTool: async (_n, input) => ({ behavior: 'allow', updatedInput: input }), systemPrompt: { type: 'preset', preset: 'claude_code' } } }) as AsyncIterable<SDKMessage>) {
    mark(`msg ${m.type}/${(m as any).subtype ?? ''}`);
  }
  mark('end');
  console.log(log.join('\n'));
}
await model.close();
