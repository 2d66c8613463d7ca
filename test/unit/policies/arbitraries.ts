/** fast-check arbitraries for the policy model: datasets, agreements, partners, requests. */
import fc from "fast-check";
import type { ExchangeRequest, ExchangeState } from "../../../policies/decide.ts";
import type { Agreement, Classification, Dataset, Partner } from "../../../policies/model.ts";

const segment = fc.constantFrom(
  "vin",
  "speed",
  "avg",
  "max",
  "engine",
  "driver",
  "name",
  "notes",
  "trip",
  "km",
);
export const path = fc.array(segment, { minLength: 1, maxLength: 3 }).map((s) => s.join("."));
const cls = fc.constantFrom<Classification>("core", "personal", "shared");
const at = "2026-01-01T00:00:00.000Z";

export const classes = fc.dictionary(path, cls, { minKeys: 1, maxKeys: 8 });

export const partnerArb = (id: string) =>
  fc.record({
    id: fc.constant(id),
    name: fc.constant(id),
    jurisdiction: fc.constantFrom("SE", "DE", "FR", "NO", "US", "KP"),
    baseUrl: fc.constant("https://example.com"),
    status: fc.constantFrom<Partner["status"]>(
      "active",
      "active",
      "active",
      "suspended",
      "revoked",
    ),
    createdAt: fc.constant(at),
    updatedAt: fc.constant(at),
  }) as fc.Arbitrary<Partner>;

export const datasetArb = classes.chain((fields) =>
  fc.record({
    id: fc.constant("ds"),
    owner: fc.constant("prov"),
    path: fc.constant("/data"),
    recordsAt: fc.constant(""),
    fields: fc.constant(fields),
    coreMarkers: fc.constant([]),
    onMarker: fc.constant("block" as const),
    exportControl: fc.option(
      fc.record({ allowedJurisdictions: fc.subarray(["SE", "DE", "FR", "NO", "US"]) }),
      {
        nil: undefined,
      },
    ),
    version: fc.constant(1),
    createdAt: fc.constant(at),
    updatedAt: fc.constant(at),
  }),
) as fc.Arbitrary<Dataset>;

const times = fc
  .tuple(fc.integer({ min: -30, max: 30 }), fc.integer({ min: 1, max: 60 }))
  .map(([from, len]) => {
    const base = Date.parse("2026-06-01T00:00:00Z");
    return {
      validFrom: new Date(base + from * 86_400_000).toISOString(),
      validUntil: new Date(base + (from + len) * 86_400_000).toISOString(),
    };
  });

export const agreementArb = (fields: fc.Arbitrary<string[]>) =>
  fc
    .record({
      fields,
      purposes: fc.subarray(["insurance-pricing", "research", "billing"]),
      actions: fc.subarray(["read", "deliver"] as const, { minLength: 1 }),
      status: fc.constantFrom<Agreement["status"]>("active", "active", "suspended", "terminated"),
      window: times,
    })
    .map(
      (r): Agreement => ({
        id: "agr",
        dataset: "ds",
        provider: "prov",
        consumer: "cons",
        actions: r.actions,
        fields: r.fields,
        purposes: r.purposes,
        ...r.window,
        price: { currency: "EUR", perRequest: 0, perRecord: 0 },
        valueShares: [{ partner: "prov", bps: 10_000 }],
        status: r.status,
        version: 1,
        createdAt: at,
        updatedAt: at,
      }),
    );

export const requestArb: fc.Arbitrary<ExchangeRequest> = fc.record({
  caller: fc.constantFrom("prov", "cons", "other"),
  scopes: fc.constantFrom(["agreement:agr"], [], ["agreement:other"]),
  agreementId: fc.constant("agr"),
  action: fc.constantFrom("read" as const, "deliver" as const),
  purpose: fc.option(fc.constantFrom("insurance-pricing", "research", "billing", "marketing"), {
    nil: undefined,
  }),
});

export const stateArb = (agreement: fc.Arbitrary<Agreement>): fc.Arbitrary<ExchangeState> =>
  fc.record({
    agreement,
    dataset: datasetArb,
    provider: partnerArb("prov"),
    consumer: partnerArb("cons"),
    tradeRules: fc.record({
      embargoedJurisdictions: fc.subarray(["KP", "IR", "US"]),
      deniedParties: fc.subarray(["prov", "cons", "nobody"]),
      version: fc.constant(1),
      updatedAt: fc.constant(null),
    }),
  });

export const nowArb = fc
  .integer({ min: -40, max: 100 })
  .map((d) => new Date(Date.parse("2026-06-01T00:00:00Z") + d * 86_400_000));
