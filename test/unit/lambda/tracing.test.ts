/** When the X-Ray SDK is loaded at all (functions/lambda/powertools.ts): Powertools Tracer's own rule. */
import { describe, expect, it } from "vitest";
import { tracingOn } from "../../../functions/lambda/powertools.ts";

describe("tracingOn", () => {
  it("traces in a Lambda execution environment only, unless turned off", () => {
    expect(tracingOn({})).toBe(false);
    expect(tracingOn({ AWS_EXECUTION_ENV: "AWS_Lambda_nodejs22.x" })).toBe(true);
    expect(
      tracingOn({ AWS_EXECUTION_ENV: "AWS_Lambda_nodejs22.x", POWERTOOLS_TRACE_ENABLED: "FALSE" }),
    ).toBe(false);
    expect(tracingOn({ AWS_EXECUTION_ENV: "AWS_Lambda_nodejs22.x", AWS_SAM_LOCAL: "true" })).toBe(
      false,
    );
    expect(tracingOn({ AWS_EXECUTION_ENV: "AWS_Lambda_amplify-mock" })).toBe(false);
  });
});
