/**
 * Properties of the policy layer that must hold for every input, not only for
 * the examples we thought of (fast-check).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkAgreement } from "../../../policies/agreement-rules.ts";
import { decide } from "../../../policies/decide.ts";
import { classify, verdictFor } from "../../../policies/fields.ts";
import type { Agreement } from "../../../policies/model.ts";
import {
  agreementArb,
  classes,
  datasetArb,
  nowArb,
  partnerArb,
  path,
  requestArb,
  stateArb,
} from "./arbitraries.ts";

const fieldsArb = fc.array(path, { minLength: 1, maxLength: 6 }).map((f) => [...new Set(f)]);

describe("no decision ever grants a core field", () => {
  it("a leaf whose class is core (or unlisted) is never released, whatever is granted", () => {
    fc.assert(
      fc.property(
        classes,
        fieldsArb,
        fc.array(path, { maxLength: 3 }),
        path,
        (cls, granted, pseudonymize, leaf) => {
          const v = verdictFor({ classes: cls, granted, pseudonymize }, leaf);
          if (classify(cls, leaf) === "core") expect(v).toBe("drop");
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("an agreement that names a core or unlisted field is refused by the rules", () => {
    fc.assert(
      fc.property(
        datasetArb,
        fieldsArb,
        partnerArb("prov"),
        partnerArb("cons"),
        (dataset, fields, provider, consumer) => {
          const draft = {
            dataset: "ds",
            provider: "prov",
            consumer: "cons",
            actions: ["read" as const],
            fields,
            purposes: ["research"],
            validFrom: "2026-01-01T00:00:00.000Z",
            validUntil: "2099-01-01T00:00:00.000Z",
            price: { currency: "EUR", perRequest: 0, perRecord: 0 },
          };
          const issues = checkAgreement(
            draft,
            {
              dataset,
              provider,
              consumer,
              sharePartners: new Map(),
              tradeRules: {
                embargoedJurisdictions: [],
                deniedParties: [],
                version: 0,
                updatedAt: null,
              },
            },
            new Date("2026-06-01T00:00:00Z"),
          );
          const namesCore = fields.some((f) => classify(dataset.fields, f) === "core");
          expect(issues.some((i) => i.code === "core_field_not_shareable")).toBe(namesCore);
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe("a narrower agreement never lets more through than a wider one", () => {
  const narrower = (wide: Agreement) =>
    fc
      .record({
        fields: fc.subarray(wide.fields, { minLength: 1 }),
        purposes: fc.subarray(wide.purposes),
        actions: fc.subarray(wide.actions, { minLength: 1 }),
        shrinkFrom: fc.integer({ min: 0, max: 5 }),
        shrinkUntil: fc.integer({ min: 0, max: 5 }),
      })
      .map((n): Agreement => {
        const from = Date.parse(wide.validFrom) + n.shrinkFrom * 3_600_000;
        const until = Math.max(from + 1, Date.parse(wide.validUntil) - n.shrinkUntil * 3_600_000);
        return {
          ...wide,
          fields: n.fields,
          purposes: n.purposes.length === 0 ? wide.purposes.slice(0, 1) : n.purposes,
          actions: n.actions,
          validFrom: new Date(from).toISOString(),
          validUntil: new Date(until).toISOString(),
        };
      });

  it("fields: every leaf the narrower releases, the wider releases too", () => {
    fc.assert(
      fc.property(
        classes,
        fieldsArb.chain((wide) => fc.tuple(fc.constant(wide), fc.subarray(wide, { minLength: 1 }))),
        path,
        (cls, [wide, narrow], leaf) => {
          const n = verdictFor({ classes: cls, granted: narrow }, leaf);
          const w = verdictFor({ classes: cls, granted: wide }, leaf);
          if (n !== "drop") expect(w).not.toBe("drop");
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("decisions: whatever the narrower permits, the wider permits", () => {
    fc.assert(
      fc.property(
        agreementArb(fieldsArb).chain((wide) => fc.tuple(fc.constant(wide), narrower(wide))),
        stateArb(fc.constant(undefined as unknown as Agreement)),
        requestArb,
        nowArb,
        ([wide, narrow], state, request, now) => {
          const n = decide(request, { ...state, agreement: narrow }, now);
          const w = decide(request, { ...state, agreement: wide }, now);
          if (n.decision === "permit") expect(w.decision).toBe("permit");
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe("the same inputs always give the same decision", () => {
  it("decide is deterministic and total (never throws, always gives reasons for a deny)", () => {
    fc.assert(
      fc.property(stateArb(agreementArb(fieldsArb)), requestArb, nowArb, (state, request, now) => {
        const a = decide(request, state, now);
        const b = decide(structuredClone(request), structuredClone(state), new Date(now.getTime()));
        expect(b).toEqual(a);
        if (a.decision === "deny") expect(a.reasons.length).toBeGreaterThan(0);
        else expect(a.reasons).toEqual([]);
      }),
      { numRuns: 2000 },
    );
  });
});
