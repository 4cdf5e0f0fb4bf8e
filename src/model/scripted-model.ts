/**
 * A scripted model server that speaks the Anthropic Messages API (streaming, tool_use blocks).
 * Real Claude Code is pointed at it with ANTHROPIC_BASE_URL, so tests and the offline demo run the
 * real agent loop without the internet. It is stateless: the turn to play is chosen from the number
 * of assistant messages already in the request, so concurrent sessions and resumed sessions work.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** Token counts a reply reports; the defaults are 100 input and 20 output tokens. */
export interface TurnUsage {
  input_tokens?: number;
  output_tokens?: number;
  cache_read_input_tokens?: number;
  cache_creation_input_tokens?: number;
}

/** One reply of the model. */
export type Turn =
  | { text: string; delay_ms?: number; usage?: TurnUsage }
  | {
      tool_use: { name: string; input: Record<string, unknown> };
      text?: string;
      delay_ms?: number;
      usage?: TurnUsage;
    }
  | { error: { status: number; type: string; message: string } }
  /** Never answers: for idle and wall-clock timeout tests. */
  | { hang: true };

export interface ScriptRequest {
  /** The parsed request body. */
  body: { model?: string; messages?: Array<{ role: string; content: unknown }>; tools?: Array<{ name: string }> };
  /** 0 for the first model call of a session, 1 after the first tool result, … */
  turnIndex: number;
  /** The text of the first user message (the task prompt). */
  prompt: string;
  /** The text of the newest user message (a follow-up prompt, or a tool result). */
  lastUserText: string;
  /** The request's headers (credentials included: tests check which ones arrive). */
  headers: http.IncomingHttpHeaders;
}

export type Script = (req: ScriptRequest) => Turn;

export interface ScriptedModel {
  url: string;
  /** Every /v1/messages request received, in order. */
  requests: ScriptRequest[];
  close(): Promise<void>;
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((block: { type?: string; text?: string; content?: unknown }) => {
      if (block.type === 'text') return block.text ?? '';
      if (block.type === 'tool_result') return textOf(block.content);
      return '';
    })
    .join('\n');
}

/** Claude Code prepends system reminders as extra text blocks; the task prompt is the last block. */
function promptOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  const texts = content.filter((b: { type?: string }) => b.type === 'text').map((b: { text?: string }) => b.text ?? '');
  return texts.filter((t) => !t.startsWith('<system-reminder>')).at(-1) ?? texts.at(-1) ?? '';
}

function toRequest(body: ScriptRequest['body'], headers: http.IncomingHttpHeaders): ScriptRequest {
  const messages = (body.messages ?? []).filter((m) => m.role === 'user' || m.role === 'assistant');
  const firstUser = messages.find((m) => m.role === 'user');
  const lastUser = messages.findLast((m) => m.role === 'user');
  return {
    body,
    turnIndex: messages.filter((m) => m.role === 'assistant').length,
    prompt: promptOf(firstUser?.content),
    lastUserText: textOf(lastUser?.content),
    headers,
  };
}

let messageCounter = 0;

function writeTurn(res: http.ServerResponse, model: string, turn: Exclude<Turn, { hang: true } | { error: unknown }>) {
  const id = `msg_scripted_${++messageCounter}`;
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  const { output_tokens = 20, ...counts } = turn.usage ?? {};
  // As the real API does: message_start carries the input side and a first output count, and
  // message_delta the cumulative output count.
  const usage = {
    input_tokens: 100,
    cache_read_input_tokens: 0,
    cache_creation_input_tokens: 0,
    ...counts,
    output_tokens: 1,
  };
  send('message_start', {
    type: 'message_start',
    message: {
      id,
      type: 'message',
      role: 'assistant',
      model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage,
    },
  });
  let index = 0;
  const text = 'text' in turn ? turn.text : undefined;
  if (text) {
    send('content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
    send('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text } });
    send('content_block_stop', { type: 'content_block_stop', index });
    index++;
  }
  let stopReason = 'end_turn';
  if ('tool_use' in turn) {
    stopReason = 'tool_use';
    const block = { type: 'tool_use', id: `toolu_scripted_${messageCounter}`, name: turn.tool_use.name, input: {} };
    send('content_block_start', { type: 'content_block_start', index, content_block: block });
    const partial_json = JSON.stringify(turn.tool_use.input);
    send('content_block_delta', {
      type: 'content_block_delta',
      index,
      delta: { type: 'input_json_delta', partial_json },
    });
    send('content_block_stop', { type: 'content_block_stop', index });
  }
  send('message_delta', {
    type: 'message_delta',
    delta: { stop_reason: stopReason, stop_sequence: null },
    usage: { output_tokens },
  });
  send('message_stop', { type: 'message_stop' });
  res.end();
}

/** Replies "Done: <prompt>" once; the default when a test does not care what the model says. */
export const echoScript: Script = (req) => ({ text: `Done: ${req.prompt.slice(0, 200)}` });

export async function startScriptedModel(script: Script = echoScript, port = 0): Promise<ScriptedModel> {
  const requests: ScriptRequest[] = [];
  const hanging = new Set<http.ServerResponse>();
  const server = http.createServer(async (req, res) => {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const path = (req.url ?? '').split('?')[0];
    if (req.method !== 'POST' || path !== '/v1/messages') {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ type: 'error', error: { type: 'not_found_error', message: 'not found' } }));
      return;
    }
    let body: ScriptRequest['body'];
    try {
      body = JSON.parse(raw);
    } catch {
      res.writeHead(400).end();
      return;
    }
    const request = toRequest(body, req.headers);
    requests.push(request);
    let turn: Turn;
    try {
      turn = script(request);
    } catch (err) {
      turn = { error: { status: 500, type: 'api_error', message: `script failed: ${(err as Error).message}` } };
    }
    if ('hang' in turn) {
      hanging.add(res);
      res.on('close', () => hanging.delete(res));
      return;
    }
    if ('error' in turn) {
      res.writeHead(turn.error.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ type: 'error', error: { type: turn.error.type, message: turn.error.message } }));
      return;
    }
    if (turn.delay_ms) await new Promise((r) => setTimeout(r, turn.delay_ms));
    writeTurn(res, body.model ?? 'claude-scripted', turn);
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const address = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}`,
    requests,
    close: async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
