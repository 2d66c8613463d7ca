/** decide(): each check with its contract code, and all reasons reported together. */
import { describe, expect, it } from "vitest";
import { type FullState, typicalState } from "../../../bench/fixtures.ts";
import { decide, type ExchangeRequest, type ExchangeState } from "../../../policies/decide.ts";

const now = new Date("2026-11-28T12:00:00Z");

function run(change: (r: ExchangeRequest, s: FullState) => [ExchangeRequest, ExchangeState]) {
  const { request, state } = typicalState();
  const [r, s] = change(request, state);
  return decide(r, s, now);
}

describe("decide", () => {
  it("permits the typical exchange", () => {
    expect(run((r, s) => [r, s])).toEqual({ decision: "permit", reasons: [] });
  });

  it.each([
    ["scope_missing", (r: ExchangeRequest, s: FullState) => [{ ...r, scopes: [] }, s]],
    [
      "agreement_not_found",
      (r: ExchangeRequest, s: FullState) => [r, { ...s, agreement: undefined }],
    ],
    ["not_party", (r: ExchangeRequest, s: FullState) => [{ ...r, caller: "fleetco" }, s]],
    [
      "partner_revoked",
      (r: ExchangeRequest, s: FullState) => [
        r,
        { ...s, consumer: { ...s.consumer, status: "revoked" } },
      ],
    ],
    [
      "partner_suspended",
      (r: ExchangeRequest, s: FullState) => [
        r,
        { ...s, provider: { ...s.provider, status: "suspended" } },
      ],
    ],
    [
      "agreement_inactive",
      (r: ExchangeRequest, s: FullState) => [
        r,
        { ...s, agreement: { ...s.agreement, status: "suspended" } },
      ],
    ],
    [
      // Contract v2: a phased-out party is named as such (its agreements ended with it).
      "partner_offboarded",
      (r: ExchangeRequest, s: FullState) => [
        r,
        { ...s, provider: { ...s.provider, phaseOutAt: "2026-11-01T00:00:00.000Z" } },
      ],
    ],
    [
      "agreement_not_yet_valid",
      (r: ExchangeRequest, s: FullState) => [
        r,
        { ...s, agreement: { ...s.agreement, validFrom: "2026-12-01T00:00:00.000Z" } },
      ],
    ],
    [
      "agreement_expired",
      (r: ExchangeRequest, s: FullState) => [
        r,
        { ...s, agreement: { ...s.agreement, validUntil: "2026-11-28T11:59:59.000Z" } },
      ],
    ],
    [
      "action_not_permitted",
      (r: ExchangeRequest, s: FullState) => [{ ...r, action: "deliver", caller: "fleetco" }, s],
    ],
    [
      "purpose_not_permitted",
      (r: ExchangeRequest, s: FullState) => [{ ...r, purpose: undefined }, s],
    ],
    [
      "purpose_not_permitted",
      (r: ExchangeRequest, s: FullState) => [{ ...r, purpose: "marketing" }, s],
    ],
    [
      "jurisdiction_blocked",
      (r: ExchangeRequest, s: FullState) => [
        r,
        { ...s, consumer: { ...s.consumer, jurisdiction: "US" } },
      ],
    ],
    [
      "jurisdiction_blocked",
      (r: ExchangeRequest, s: FullState) => [
        r,
        { ...s, provider: { ...s.provider, jurisdiction: "KP" } },
      ],
    ],
    [
      "jurisdiction_blocked",
      (r: ExchangeRequest, s: FullState) => [
        r,
        { ...s, tradeRules: { ...s.tradeRules, deniedParties: ["insureco"] } },
      ],
    ],
  ] as const)("denies with %s", (code, change) => {
    const d = run(change as (r: ExchangeRequest, s: FullState) => [ExchangeRequest, ExchangeState]);
    expect(d.decision).toBe("deny");
    expect(d.reasons[0]?.code).toBe(code);
  });

  it("reports every reason, most significant first", () => {
    const d = run((r, s) => [
      { ...r, purpose: "marketing" },
      { ...s, consumer: { ...s.consumer, status: "suspended", jurisdiction: "US" } },
    ]);
    expect(d.reasons.map((x) => x.code)).toEqual([
      "partner_suspended",
      "purpose_not_permitted",
      "jurisdiction_blocked",
    ]);
  });
});
