/**
 * Signature checks of inbound webhooks, over the raw bytes of the body and before anything parses it.
 * A delivery that fails is answered 401 and goes no further.
 *
 * GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`. GitHub's signature covers the body
 * only, not the delivery id or a time, so whoever captures one signed delivery can post it again under a
 * new `X-GitHub-Delivery`; TLS keeps it from being captured. Standard Webhooks signs the id and a
 * timestamp too, and the library refuses timestamps more than five minutes off.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { type Webhook, WebhookVerificationError } from 'standardwebhooks';
import { AppError } from '../errors.ts';

export type HeaderGetter = (name: string) => string | undefined;

/** A delivery that passed its signature check, with the id its sender gave it. */
export interface VerifiedDelivery {
  /** `X-GitHub-Delivery` or `webhook-id`: what a redelivery repeats. */
  id: string;
}

/** Delivery ids are stored and echoed: printable ASCII, bounded. */
const DELIVERY_ID = /^[\x21-\x7e]{1,255}$/;
const GITHUB_SIGNATURE = /^sha256=([0-9a-fA-F]{64})$/;

function unauthorized(reason: string): AppError {
  return new AppError('unauthorized', `webhook signature check failed: ${reason}`);
}

function deliveryId(value: string | undefined, header: string): string {
  if (value === undefined || !DELIVERY_ID.test(value)) {
    throw new AppError('validation', `${header} must be 1 to 255 printable ASCII characters`, { field: header });
  }
  return value;
}

/** GitHub's X-Hub-Signature-256, compared in constant time. */
export function verifyGithub(raw: Buffer, header: HeaderGetter, secret: string): VerifiedDelivery {
  const presented = GITHUB_SIGNATURE.exec(header('x-hub-signature-256')?.trim() ?? '');
  if (!presented) throw unauthorized('X-Hub-Signature-256 must be sha256=<64 hex digits>');
  const expected = createHmac('sha256', secret).update(raw).digest();
  // Both are 32 bytes: the regex fixed the presented length, so timingSafeEqual cannot throw.
  if (!timingSafeEqual(expected, Buffer.from(presented[1] as string, 'hex'))) {
    throw unauthorized('X-Hub-Signature-256 does not match the body');
  }
  return { id: deliveryId(header('x-github-delivery'), 'X-GitHub-Delivery') };
}

/** Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature), by the spec's own library. */
export function verifyStandard(raw: Buffer, header: HeaderGetter, verifier: Webhook): VerifiedDelivery {
  const headers: Record<string, string> = {};
  for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) {
    const value = header(name);
    if (value !== undefined) headers[name] = value;
  }
  try {
    // jsonParse: false — the body is parsed later, by the same bounded reader as every other request.
    verifier.verify(raw, headers, { jsonParse: false });
  } catch (err) {
    if (err instanceof WebhookVerificationError) throw unauthorized(err.message);
    throw err;
  }
  return { id: deliveryId(headers['webhook-id'], 'webhook-id') };
}
