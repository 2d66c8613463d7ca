/**
 * Establishes the request's trace for everything that runs inside it (log
 * lines, calls to partner backends): the caller's valid `traceparent`, else
 * the X-Ray trace the Lambda invocation runs in, else a new trace.
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../http/env.ts";
import { withTrace } from "./context.ts";
import { newTraceId, parseTraceparent, traceIdOfXray } from "./traceparent.ts";

export function traceContext(): MiddlewareHandler<AppEnv> {
  return async function traceContextMiddleware(c, next) {
    const caller = parseTraceparent(c.req.header("traceparent"));
    // Lambda sets this for each invocation; absent locally.
    const xray = caller === null ? traceIdOfXray(process.env._X_AMZN_TRACE_ID) : null;
    await withTrace(
      {
        requestId: c.get("requestId"),
        traceId: caller?.traceId ?? xray?.traceId ?? newTraceId(),
        parentId: caller?.parentId ?? null,
        sampled: caller?.sampled ?? xray?.sampled ?? true,
      },
      next,
    );
  };
}
