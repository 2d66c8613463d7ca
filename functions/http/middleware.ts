/**
 * Cross-cutting middleware: request ids and size caps. Each is a factory
 * returning a named function, so stack traces and the router name them.
 */
import { randomUUID } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { GatewayError, InvalidRequestError } from "../errors.ts";

const INCOMING_ID = /^[A-Za-z0-9._:-]{8,128}$/;

/**
 * Every request gets the gateway's own id: it is what backends, the audit
 * trail, the meter and the logs see, and what every response carries as
 * X-Request-Id. A caller chooses its own X-Request-Id and could forge or
 * repeat one, so it is only kept (when well-formed) as the caller's
 * correlation id, for the logs.
 */
export function requestId(): MiddlewareHandler {
  return async function requestIdMiddleware(c, next) {
    const id = randomUUID();
    c.set("requestId", id);
    const incoming = c.req.header("X-Request-Id");
    if (incoming !== undefined && INCOMING_ID.test(incoming)) c.set("callerRequestId", incoming);
    await next();
    c.res.headers.set("X-Request-Id", id);
    // No answer of the gateway is to be sniffed into another type (a JSON or
    // CSV body rendered as HTML).
    c.res.headers.set("X-Content-Type-Options", "nosniff");
  };
}

/** Refuses requests whose declared body is over `maxBytes` before reading it. */
export function declaredBodyLimit(maxBytes: number): MiddlewareHandler {
  return async function declaredBodyLimitMiddleware(c, next) {
    const declared = c.req.header("Content-Length");
    if (declared !== undefined) {
      if (!/^\d{1,15}$/.test(declared))
        throw new InvalidRequestError("Content-Length", "is not a byte count");
      if (Number(declared) > maxBytes) throw payloadTooLarge(maxBytes);
    }
    await next();
  };
}

export const payloadTooLarge = (maxBytes: number): GatewayError =>
  new GatewayError("payload_too_large", `the body is larger than ${maxBytes} bytes`);

/** Reads the request body, counting bytes as they arrive; never buffers past the cap. */
export async function readBodyCapped(req: Request, maxBytes: number): Promise<Uint8Array> {
  if (req.body === null) return new Uint8Array(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      throw payloadTooLarge(maxBytes);
    }
    chunks.push(value);
  }
  return concat(chunks, total);
}

export function concat(chunks: readonly Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1 && chunks[0] !== undefined) return chunks[0];
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}
