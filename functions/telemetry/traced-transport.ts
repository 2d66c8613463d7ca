/**
 * Every call to a partner backend carries a traceparent: the request's trace
 * (or a new one outside a request, for event deliveries), and as parent the
 * gateway's own span of that call (an X-Ray subsegment in Lambda, a fresh id
 * locally). The caller's traceparent, tracestate or any other header of the
 * caller's is never passed on: headers are built by the gateway.
 */
import type { UpstreamResponse, UpstreamTransport } from "../exchange/upstream.ts";
import { currentTrace } from "./context.ts";
import type { Span, Telemetry } from "./telemetry.ts";
import { formatTraceparent, newSpanId, newTraceId, traceIdOfXray } from "./traceparent.ts";

export function tracedTransport(inner: UpstreamTransport, telemetry: Telemetry): UpstreamTransport {
  return (req) => {
    try {
      // Outside a request (event deliveries): the invocation's X-Ray trace, or a new one.
      const trace = currentTrace() ?? traceIdOfXray(process.env._X_AMZN_TRACE_ID);
      const span = telemetry.span(`upstream ${req.method}`);
      span?.annotate("host", req.url.hostname);
      const traceparent = formatTraceparent(
        trace?.traceId ?? newTraceId(),
        span?.id ?? newSpanId(),
        trace?.sampled ?? true,
      );
      const headers: Record<string, string> = {};
      for (const name in req.headers) {
        const lower = name.toLowerCase();
        if (lower !== "traceparent" && lower !== "tracestate")
          headers[name] = req.headers[name] as string;
      }
      headers.traceparent = traceparent;
      let call: Promise<UpstreamResponse>;
      try {
        call = inner({ ...req, headers });
      } catch (err) {
        // A transport that throws at once is refused like one that rejects (the span still closes).
        call = Promise.reject(err);
      }
      // Without a span there is nothing to close: the call's own promise (no wrapper).
      return span === null ? call : closing(span, call);
    } catch (err) {
      return Promise.reject(err);
    }
  };
}

async function closing(span: Span, call: Promise<UpstreamResponse>): Promise<UpstreamResponse> {
  try {
    const res = await call;
    if (!res.ok) span.fail(new Error(`${res.kind}: ${res.message}`));
    else span.annotate("status", res.status);
    return res;
  } finally {
    span.close();
  }
}
