/**
 * The traceparent on every call to a backend, with or without a span: the
 * request's trace, the gateway's headers only (a caller's traceparent or
 * tracestate never passes), the span closed however the call ends, and a
 * transport that throws at once refused as one that rejects.
 */
import { describe, expect, it } from "vitest";
import type { UpstreamRequest, UpstreamResponse } from "../../../functions/exchange/upstream.ts";
import { withTrace } from "../../../functions/telemetry/context.ts";
import { noTelemetry, type Span, type Telemetry } from "../../../functions/telemetry/telemetry.ts";
import { tracedTransport } from "../../../functions/telemetry/traced-transport.ts";

const TRACE = "0af7651916cd43dd8448eb211c80319c";
const answer: UpstreamResponse = {
  ok: true,
  status: 200,
  contentType: "application/json",
  contentEncoding: undefined,
  body: new Uint8Array(0),
};
const request: UpstreamRequest = {
  method: "GET",
  url: new URL("https://backend.example/ds"),
  headers: { Authorization: "Bearer t", TraceParent: "00-caller", tracestate: "caller=1", X: "y" },
  timeoutMs: 1000,
  maxBytes: 1000,
};

function recorder() {
  const events: string[] = [];
  const span: Span = {
    id: "b7ad6b7169203331",
    annotate: (k, v) => events.push(`annotate ${k}=${v}`),
    fail: (e) => events.push(`fail ${(e as Error).message}`),
    close: () => events.push("close"),
  };
  const telemetry: Telemetry = { flow: () => {}, span: () => span };
  return { events, telemetry };
}

const inTrace = <T>(fn: () => T): T =>
  withTrace({ requestId: "r", traceId: TRACE, parentId: null, sampled: true }, fn);

describe("tracedTransport", () => {
  it("without a span: the request's trace, a new parent id, the caller's trace headers dropped", async () => {
    let sent: UpstreamRequest | undefined;
    const transport = tracedTransport(async (req) => {
      sent = req;
      return answer;
    }, noTelemetry);
    expect(await inTrace(() => transport(request))).toBe(answer);
    expect(Object.keys(sent?.headers ?? {})).toEqual(["Authorization", "X", "traceparent"]);
    expect(sent?.headers.traceparent).toMatch(new RegExp(`^00-${TRACE}-[0-9a-f]{16}-01$`));
    expect(sent?.url).toBe(request.url);
    expect(request.headers.TraceParent).toBe("00-caller");
  });

  it("with a span: its id as the parent, annotated and closed after the answer", async () => {
    const { events, telemetry } = recorder();
    let sent: UpstreamRequest | undefined;
    const transport = tracedTransport(async (req) => {
      sent = req;
      events.push("call");
      return answer;
    }, telemetry);
    await inTrace(() => transport(request));
    expect(sent?.headers.traceparent).toBe(`00-${TRACE}-b7ad6b7169203331-01`);
    expect(events).toEqual([
      "annotate host=backend.example",
      "call",
      "annotate status=200",
      "close",
    ]);
  });

  it("a refusal or a fault is answered as it came, and the span still closes", async () => {
    const { events, telemetry } = recorder();
    const timeout: UpstreamResponse = { ok: false, kind: "timeout", message: "late" };
    expect(await tracedTransport(async () => timeout, telemetry)(request)).toBe(timeout);
    expect(events.slice(-2)).toEqual(["fail timeout: late", "close"]);
    await expect(
      tracedTransport(async () => Promise.reject(new Error("down")), telemetry)(request),
    ).rejects.toThrow("down");
    expect(events.at(-1)).toBe("close");
  });

  it("a transport that throws at once: a rejected promise, never a throw, with or without a span", async () => {
    const throwing = (() => {
      throw new Error("at once");
    }) as unknown as (req: UpstreamRequest) => Promise<UpstreamResponse>;
    const { events, telemetry } = recorder();
    for (const t of [noTelemetry, telemetry]) {
      let call: Promise<UpstreamResponse> | undefined;
      expect(() => {
        call = tracedTransport(throwing, t)(request);
      }).not.toThrow();
      await expect(call).rejects.toThrow("at once");
    }
    expect(events.at(-1)).toBe("close");
  });
});
