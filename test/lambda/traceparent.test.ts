/** W3C traceparent: what is accepted from callers, and X-Ray's trace as a W3C id. */
import { describe, expect, it } from "vitest";
import { createLogger } from "../../functions/log.ts";
import { withTrace } from "../../functions/telemetry/context.ts";
import {
  formatTraceparent,
  parseTraceparent,
  traceIdOfXray,
} from "../../functions/telemetry/traceparent.ts";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT = "00f067aa0ba902b7";

describe("traceparent", () => {
  it("accepts a valid one and reads the sampled flag", () => {
    expect(parseTraceparent(`00-${TRACE}-${PARENT}-01`)).toEqual({
      traceId: TRACE,
      parentId: PARENT,
      sampled: true,
    });
    expect(parseTraceparent(`00-${TRACE}-${PARENT}-00`)?.sampled).toBe(false);
    // A future version: read by its first four fields.
    expect(parseTraceparent(`01-${TRACE}-${PARENT}-01-what-comes-next`)?.traceId).toBe(TRACE);
  });

  it.each([
    ["missing", undefined],
    ["too short", `00-${TRACE}-${PARENT}-0`],
    ["version ff", `ff-${TRACE}-${PARENT}-01`],
    ["version 00 with more", `00-${TRACE}-${PARENT}-01-x`],
    ["upper case", `00-${TRACE.toUpperCase()}-${PARENT}-01`],
    ["an all-zero trace id", `00-${"0".repeat(32)}-${PARENT}-01`],
    ["an all-zero parent id", `00-${TRACE}-${"0".repeat(16)}-01`],
    ["wrong separators", `00_${TRACE}_${PARENT}_01`],
    ["non-hex flags", `00-${TRACE}-${PARENT}-zz`],
    ["a future version run on", `01-${TRACE}-${PARENT}-01x`],
    ["huge", `00-${TRACE}-${PARENT}-01${"-x".repeat(400)}`],
  ])("ignores one that is %s", (_what, header) => {
    expect(parseTraceparent(header)).toBeNull();
  });

  it("formats the gateway's own", () => {
    expect(formatTraceparent(TRACE, PARENT, true)).toBe(`00-${TRACE}-${PARENT}-01`);
    expect(parseTraceparent(formatTraceparent(TRACE, PARENT, false))).toEqual({
      traceId: TRACE,
      parentId: PARENT,
      sampled: false,
    });
  });

  it("reads X-Ray's root as a W3C trace id", () => {
    expect(
      traceIdOfXray("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"),
    ).toEqual({ traceId: "5759e988bd862e3fe1be46a994272793", sampled: true });
    expect(traceIdOfXray("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0")?.sampled).toBe(
      false,
    );
    expect(traceIdOfXray("Parent=53995c3f42cd8ad8")).toBeNull();
    expect(traceIdOfXray(undefined)).toBeNull();
  });
});

describe("the local logger", () => {
  it("puts the request's id and trace on every line written inside it, as before otherwise", () => {
    const lines: string[] = [];
    const log = createLogger({ write: (l) => lines.push(l), base: { stage: "t" } });
    log.info("outside", { n: 1 });
    withTrace({ requestId: "req-1", traceId: TRACE, parentId: null, sampled: true }, () =>
      log.child({ who: "x" }).warn("inside"),
    );
    const [outside, inside] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(outside).toMatchObject({ stage: "t", n: 1, level: "info", code: "outside" });
    expect(outside).not.toHaveProperty("traceId");
    expect(inside).toMatchObject({
      stage: "t",
      who: "x",
      requestId: "req-1",
      traceId: TRACE,
      level: "warn",
      code: "inside",
    });
  });
});
