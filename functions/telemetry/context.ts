/**
 * What every log line and outgoing call of one request knows about it: its
 * request id and its trace. Held in an AsyncLocalStorage for the duration of
 * the request (locally many requests run at once in one process; in Lambda
 * one per container), so code deep in the store or the transport needs no
 * parameter for it.
 */
import { AsyncLocalStorage } from "node:async_hooks";

export interface RequestTrace {
  readonly requestId: string;
  /** W3C trace id (32 hex): the caller's, X-Ray's, or a new one. */
  readonly traceId: string;
  /** The caller's span, when it sent a traceparent. */
  readonly parentId: string | null;
  readonly sampled: boolean;
}

const storage = new AsyncLocalStorage<RequestTrace>();

export const currentTrace = (): RequestTrace | undefined => storage.getStore();

export function withTrace<T>(trace: RequestTrace, fn: () => T): T {
  return storage.run(trace, fn);
}
