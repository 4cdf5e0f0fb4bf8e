/**
 * Turns a task's event log (Claude Code's own messages, plus status changes) into transcript entries.
 * Everything stays data: the page renders each field as React text, never as HTML.
 */
import type { TaskEvent } from './api-types.ts';

export type Entry =
  | { kind: 'status'; key: string; status: string; error?: { kind: string; message: string } | null }
  | { kind: 'init'; key: string; model: string; tools: string[] }
  | { kind: 'text'; key: string; text: string }
  | {
      kind: 'tool';
      key: string;
      id: string;
      name: string;
      input: unknown;
      result?: string;
      isError: boolean;
      denied: boolean;
    }
  | {
      kind: 'result';
      key: string;
      turns?: number;
      durationMs?: number;
      costUsd?: number;
      inputTokens?: number;
      outputTokens?: number;
    };

interface Block {
  type?: string;
  text?: string;
  id?: string;
  name?: string;
  input?: unknown;
  tool_use_id?: string;
  content?: unknown;
  is_error?: boolean;
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((b: Block) => (typeof b?.text === 'string' ? b.text : '')).join('\n');
  return content === undefined || content === null ? '' : JSON.stringify(content);
}

/**
 * A refused call: the gate's refusal (Claude Code's permission_denials and tool_result_meta), or a
 * tool the policy leaves out of existence ("No such tool available").
 */
const REFUSAL = /no such tool available|permission|denied|not allowed/i;

export function buildTranscript(events: TaskEvent[]): Entry[] {
  const entries: Entry[] = [];
  const tools = new Map<string, Extract<Entry, { kind: 'tool' }>>();
  const denied = new Set<string>();
  for (const e of events) {
    const d = (e.data ?? {}) as Record<string, unknown>;
    const key = String(e.seq);
    if (e.type === 'status') {
      entries.push({
        kind: 'status',
        key,
        status: String(d.status ?? ''),
        error: (d.error as { kind: string; message: string } | null) ?? null,
      });
    } else if (e.type === 'system' && d.subtype === 'init') {
      entries.push({
        kind: 'init',
        key,
        model: String(d.model ?? ''),
        tools: Array.isArray(d.tools) ? d.tools.map(String) : [],
      });
    } else if (e.type === 'assistant') {
      const content = ((d.message as { content?: Block[] } | undefined)?.content ?? []) as Block[];
      content.forEach((b, i) => {
        if (b.type === 'text' && b.text) entries.push({ kind: 'text', key: `${key}.${i}`, text: b.text });
        if (b.type === 'tool_use') {
          const entry = {
            kind: 'tool' as const,
            key: `${key}.${i}`,
            id: String(b.id ?? ''),
            name: String(b.name ?? ''),
            input: b.input,
            isError: false,
            denied: false,
          };
          tools.set(entry.id, entry);
          entries.push(entry);
        }
      });
    } else if (e.type === 'user') {
      const content = (d.message as { content?: unknown } | undefined)?.content;
      const meta = Array.isArray(d.tool_result_meta) ? d.tool_result_meta : [];
      for (const m of meta as Array<{ id?: string; permission_decision?: { decision?: string } }>) {
        if (m.id && m.permission_decision && m.permission_decision.decision !== 'accept') denied.add(m.id);
      }
      if (!Array.isArray(content)) continue;
      for (const b of content as Block[]) {
        if (b.type !== 'tool_result' || !b.tool_use_id) continue;
        const tool = tools.get(b.tool_use_id);
        if (!tool) continue;
        tool.result = textOf(b.content);
        tool.isError = b.is_error === true;
        if (tool.isError && REFUSAL.test(tool.result)) denied.add(tool.id);
      }
    } else if (e.type === 'result') {
      const usage = (d.usage ?? {}) as { input_tokens?: number; output_tokens?: number };
      for (const p of (Array.isArray(d.permission_denials) ? d.permission_denials : []) as Array<{
        tool_use_id?: string;
      }>) {
        if (p.tool_use_id) denied.add(p.tool_use_id);
      }
      entries.push({
        kind: 'result',
        key,
        ...(typeof d.num_turns === 'number' ? { turns: d.num_turns } : {}),
        ...(typeof d.duration_ms === 'number' ? { durationMs: d.duration_ms } : {}),
        ...(typeof d.total_cost_usd === 'number' ? { costUsd: d.total_cost_usd } : {}),
        ...(typeof usage.input_tokens === 'number' ? { inputTokens: usage.input_tokens } : {}),
        ...(typeof usage.output_tokens === 'number' ? { outputTokens: usage.output_tokens } : {}),
      });
    }
  }
  for (const id of denied) {
    const tool = tools.get(id);
    if (tool) tool.denied = true;
  }
  return entries;
}

/** The event types the task stream sends (EventSource needs a listener per named event). */
export const TASK_EVENT_TYPES = ['status', 'system', 'assistant', 'user', 'result', 'tool_progress', 'stream_event'];
