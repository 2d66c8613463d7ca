/**
 * W3C Trace Context (`traceparent`): accepted from callers when valid, and
 * sent to partner backends as a new traceparent naming the gateway's own
 * span, never the caller's (nor any other header of the caller's).
 *
 *   traceparent: 00-<trace-id: 32 hex>-<parent-id: 16 hex>-<flags: 2 hex>
 *
 * An invalid header is ignored (a new trace starts), never refused. In
 * Lambda, a request without one continues the X-Ray trace the function runs
 * in (its root, written as a W3C trace id).
 */
import { randomBytes } from "node:crypto";

export interface TraceParent {
  readonly traceId: string;
  readonly parentId: string;
  readonly sampled: boolean;
}

const HEX_32 = /^[0-9a-f]{32}$/;
const HEX_16 = /^[0-9a-f]{16}$/;
const ALL_ZERO = /^0+$/;

/**
 * The caller's traceparent, or null when it is missing or invalid (RFC
 * level-2 rules: lowercase hex, no all-zero ids, version ff refused; a
 * future version is read by its first four fields only).
 */
export function parseTraceparent(header: string | undefined): TraceParent | null {
  if (header === undefined || header.length < 55 || header.length > 512) return null;
  const value = header.trim();
  const version = value.slice(0, 2);
  if (!/^[0-9a-f]{2}$/.test(version) || version === "ff") return null;
  if (version === "00" && value.length !== 55) return null;
  if (version !== "00" && value.length > 55 && value[55] !== "-") return null;
  const [, traceId = "", parentId = "", flags = ""] = value.slice(0, 55).split("-");
  if (value[2] !== "-" || value[35] !== "-" || value[52] !== "-") return null;
  if (!HEX_32.test(traceId) || ALL_ZERO.test(traceId)) return null;
  if (!HEX_16.test(parentId) || ALL_ZERO.test(parentId)) return null;
  if (!/^[0-9a-f]{2}$/.test(flags)) return null;
  return { traceId, parentId, sampled: (Number.parseInt(flags, 16) & 1) === 1 };
}

export const formatTraceparent = (traceId: string, spanId: string, sampled: boolean): string =>
  `00-${traceId}-${spanId}-${sampled ? "01" : "00"}`;

/** Random ids from a pool refilled 4 KiB at a time: one system call per 170 traces, not two per call. */
let pool = Buffer.alloc(0);
let at = 0;
function randomHex(bytes: number): string {
  if (at + bytes > pool.length) {
    pool = randomBytes(4096);
    at = 0;
  }
  const hex = pool.toString("hex", at, at + bytes);
  at += bytes;
  return hex;
}

export const newTraceId = (): string => randomHex(16);
export const newSpanId = (): string => randomHex(8);

/**
 * The trace an X-Ray header names (`Root=1-5759e988-bd862e3fe1be46a994272793;…`),
 * as a W3C trace id (`5759e988bd862e3fe1be46a994272793`), or null.
 */
export function traceIdOfXray(
  header: string | undefined,
): { traceId: string; sampled: boolean } | null {
  const root = /(?:^|;)Root=1-([0-9a-f]{8})-([0-9a-f]{24})(?:;|$)/.exec(header ?? "");
  if (root === null) return null;
  const sampled = /(?:^|;)Sampled=1(?:;|$)/.test(header ?? "");
  return { traceId: `${root[1]}${root[2]}`, sampled };
}
