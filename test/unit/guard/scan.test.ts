/**
 * Scans own their state: a scan started while another scan of the same plan
 * is in the middle of a record (here from inside a marker check) gets its own
 * key stack, stamps and key-order guesses, and neither disturbs the other.
 */
import { describe, expect, it } from "vitest";
import { compileGuardPlan, guardPayload } from "../../../policies/guard/index.ts";
import type { MarkerMatcher } from "../../../policies/markers/index.ts";
import { TELEMETRY } from "./plans.ts";

/** A matcher that runs `inner` on its first call once armed (after the plan compiled), mid-scan. */
function reentering(inner: () => void): MarkerMatcher & { armed: boolean } {
  let ran = false;
  return {
    size: 1,
    armed: false,
    firstMatch(value: string): number {
      if (this.armed && !ran) {
        ran = true;
        inner();
      }
      return value.includes("CAL-") ? 0 : -1;
    },
  };
}

describe("scan state", () => {
  it("a nested scan of the same plan keeps duplicate checks and outputs of both apart", () => {
    const records = (n: number, extra = "") =>
      `{"items":[${Array.from({ length: n }, (_, i) => `{"vin":"V${i}","mileage":${i}${extra}}`).join(",")}]}`;
    let inner: ReturnType<typeof guardPayload> | undefined;
    let innerDup: ReturnType<typeof guardPayload> | undefined;
    const matcher = reentering(() => {
      inner = guardPayload(plan, records(3), "json");
      innerDup = guardPayload(plan, records(1, ',"mileage":9'), "json");
    });
    const plan = compileGuardPlan({ ...TELEMETRY, markers: matcher });
    matcher.armed = true;
    // The outer scan is inside its first record (checking "V0") when the inner scans run.
    const outer = guardPayload(plan, records(3), "json");
    expect(outer).toEqual({ ok: true, body: records(3), records: 3 });
    expect(inner).toEqual({ ok: true, body: records(3), records: 3 });
    expect(innerDup).toMatchObject({ ok: false, detail: "duplicate_key" });
    // And a duplicate in the outer scan is still seen after the inner ones ran.
    const second = reentering(() => guardPayload(again, records(2), "json"));
    const again = compileGuardPlan({ ...TELEMETRY, markers: second });
    second.armed = true;
    expect(guardPayload(again, records(1, ',"vin":"X"'), "json")).toMatchObject({
      detail: "duplicate_key",
    });
  });
});
