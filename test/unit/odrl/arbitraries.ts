/**
 * fast-check arbitraries of valid `AgreementInput`s, raw (before parsing, so
 * defaults and optional members vary) and spread over the whole schema.
 */
import fc from "fast-check";
import { CURRENCY_CODES } from "../../../policies/iso.ts";

export const id = fc.stringMatching(/^[a-z0-9][a-z0-9-]{1,62}$/);

/** A dot-path segment: plain names, and any text without dots or control characters. */
const segment = fc.oneof(
  fc.stringMatching(/^[a-z][a-zA-Z0-9_]{0,11}$/),
  fc
    .string({ minLength: 1, maxLength: 8, unit: "grapheme" })
    // biome-ignore lint/suspicious/noControlCharactersInRegex: what a field path may not hold
    .filter((s) => /^[^.\u0000-\u001f]+$/.test(s)),
);
const fieldPath = fc.array(segment, { minLength: 1, maxLength: 3 }).map((s) => s.join("."));

const purpose = fc.stringMatching(/^[a-z0-9][a-z0-9._:-]{0,30}$/);

/** ISO 8601 UTC, with or without milliseconds. */
const timestamp = fc
  .date({
    min: new Date("1970-01-01T00:00:00Z"),
    max: new Date("2999-12-31T23:59:59Z"),
    noInvalidDate: true,
  })
  .chain((d) => fc.constantFrom(d.toISOString(), d.toISOString().replace(/\.\d{3}Z$/, "Z")));

const micros = fc.oneof(
  fc.constant(0),
  fc.integer({ min: 0, max: 10_000_000 }),
  fc.integer({ min: 0, max: 1_000_000_000_000 }),
);

const price = fc.record(
  {
    currency: fc.oneof(fc.constantFrom("EUR", "USD", "SEK"), fc.constantFrom(...CURRENCY_CODES)),
    perRequest: micros,
    perRecord: micros,
  },
  { requiredKeys: ["currency"] },
);

const quota = fc.record(
  {
    requestsPerDay: fc.integer({ min: 1, max: 1_000_000_000 }),
    recordsPerMonth: fc.integer({ min: 1, max: 1_000_000_000_000 }),
  },
  { requiredKeys: [] },
);

/** Value shares summing to 10000 bps: cut [0, 10000] at distinct points. */
const valueShares = fc
  .uniqueArray(fc.integer({ min: 1, max: 9_999 }), { maxLength: 5 })
  .chain((cuts) => {
    const points = [0, ...cuts.sort((a, b) => a - b), 10_000];
    const bps = points.slice(1).map((p, i) => p - (points[i] ?? 0));
    return fc.tuple(...bps.map((b) => id.map((partner) => ({ partner, bps: b }))));
  });

const grant = fc
  .uniqueArray(fieldPath, { minLength: 1, maxLength: 6 })
  .chain((fields) =>
    fc.record(
      { fields: fc.constant(fields), pseudonymize: fc.subarray(fields) },
      { requiredKeys: ["fields"] },
    ),
  );

const terms = fc.record(
  {
    id,
    dataset: id,
    provider: id,
    consumer: id,
    actions: fc.shuffledSubarray(["read", "deliver"], { minLength: 1 }),
    purposes: fc.uniqueArray(purpose, { maxLength: 4 }),
    validFrom: timestamp,
    validUntil: timestamp,
    quota,
    price,
    retentionDays: fc.integer({ min: 0, max: 36_500 }),
    valueShares,
  },
  { requiredKeys: ["id", "dataset", "provider", "consumer", "actions", "validFrom", "validUntil"] },
);

export const agreementInput = fc.tuple(terms, grant).map(([t, g]) => ({ ...t, ...g }));
