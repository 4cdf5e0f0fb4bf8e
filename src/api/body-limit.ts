/**
 * The request body limit, answered so that a client still sending can read it. Most clients (Python's
 * httpx and requests, curl) write the whole body before they read a response: if the server answers 413
 * and closes while bytes are still coming, the kernel resets the connection and the client sees
 * "Broken pipe" instead of the error. So an oversized body is read and thrown away, up to DRAIN_LIMIT
 * bytes and while it keeps arriving, and only then answered; beyond that the connection is closed.
 */
import type { MiddlewareHandler } from 'hono';
import { AppError } from '../errors.ts';

/** Bytes of an oversized body read and discarded so its sender can still read the 413. */
export const DRAIN_LIMIT = 64 * 1024 * 1024;
/** A sender that stops sending for this long while its body is drained is not waited for. */
export const DRAIN_IDLE_MS = 10_000;

type Reader = ReadableStreamDefaultReader<Uint8Array>;

/** Reads and discards the rest of a body; false when it was too long or stalled and was cancelled instead. */
async function drain(reader: Reader, alreadyRead: number): Promise<boolean> {
  let read = alreadyRead;
  for (;;) {
    let timer: NodeJS.Timeout | undefined;
    const idle = new Promise<'idle'>((resolve) => {
      timer = setTimeout(() => resolve('idle'), DRAIN_IDLE_MS);
    });
    const next = await Promise.race([reader.read(), idle]).finally(() => clearTimeout(timer));
    if (next === 'idle') break;
    if (next.done) return true;
    read += next.value.length;
    if (read > DRAIN_LIMIT) break;
  }
  await reader.cancel().catch(() => undefined);
  return false;
}

/**
 * Refuses bodies over `maxSize` bytes with `payload_too_large` (413), after draining them (above).
 * Bodies within the limit reach the route untouched (declared length) or buffered (chunked).
 */
export function bodyLimit(maxSize: number, message: string): MiddlewareHandler {
  const tooLarge = async (reader: Reader, alreadyRead: number): Promise<never> => {
    // When draining gives up, cancelling the body has already closed the socket: the answer is for the log.
    await drain(reader, alreadyRead);
    throw new AppError('payload_too_large', message);
  };
  return async (c, next) => {
    const body = c.req.raw.body;
    if (body === null) return next();
    const declared = c.req.header('content-length');
    if (declared !== undefined && c.req.header('transfer-encoding') === undefined) {
      if (Number(declared) <= maxSize) return next();
      return tooLarge(body.getReader(), 0);
    }
    const reader = body.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > maxSize) return tooLarge(reader, size);
      chunks.push(value);
    }
    c.req.raw = new Request(c.req.raw, { body: Buffer.concat(chunks, size) });
    return next();
  };
}
