import type { TaskStreamEvent } from '../client/client.ts';

interface ContentBlock {
  type: string;
  text?: string;
  name?: string;
  input?: unknown;
  content?: unknown;
  is_error?: boolean;
}

/** One readable stderr line per agent step: what it said, which tool it called, what was refused. */
export function printEvent(event: TaskStreamEvent, write = (line: string) => process.stderr.write(`${line}\n`)): void {
  const data = event.data as { message?: { content?: ContentBlock[] }; status?: string; error?: { kind: string } };
  if (event.type === 'status') {
    write(`· ${data.status}${data.error ? ` (${data.error.kind})` : ''}`);
    return;
  }
  for (const block of data.message?.content ?? []) {
    if (event.type === 'assistant' && block.type === 'text' && block.text) write(`  ${block.text.split('\n')[0]}`);
    if (event.type === 'assistant' && block.type === 'tool_use') {
      write(`  → ${block.name} ${JSON.stringify(block.input).slice(0, 120)}`);
    }
    if (event.type === 'user' && block.type === 'tool_result' && block.is_error) {
      const text = typeof block.content === 'string' ? block.content : JSON.stringify(block.content);
      write(`  ✗ ${text.slice(0, 160)}`);
    }
  }
}
