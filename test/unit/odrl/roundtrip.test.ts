import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { EXAMPLE_AGREEMENT as contractExample } from "../../../policies/demo/ecosystem.ts";
import { Agreement, AgreementInput } from "../../../policies/model.ts";
import { agreementToOdrl, odrlToAgreementInput } from "../../../policies/odrl/index.ts";
import { agreementInput, id } from "./arbitraries.ts";
import { type Json, viaJson } from "./json.ts";

/** Exports, sends through JSON text, imports, validates: the agreement that comes back. */
function roundTrip(input: AgreementInput, transform = (doc: Json): Json => doc, baseIri?: string) {
  const options = baseIri === undefined ? {} : { baseIri };
  const back = odrlToAgreementInput(transform(viaJson(agreementToOdrl(input, options))), options);
  if (!back.ok) throw new Error(JSON.stringify(back.issues));
  return AgreementInput.parse(back.input);
}

const ODRL = "http://www.w3.org/ns/odrl/2/";

/** A vocabulary or IRI value spelled out (terms as full IRIs or `{"@id"}`); other strings as they are. */
function respellValue(value: string, key: string): Json {
  if ((key === "leftOperand" || key === "@id") && value.startsWith("dsg:")) {
    return `acme:${value.slice(4)}`;
  }
  if (key === "action") return { "@id": ODRL + value };
  if (key === "operator" || key === "leftOperand" || (key === "@type" && !value.includes(":"))) {
    return ODRL + value;
  }
  if (key === "@type" && value.startsWith("xsd:")) {
    return `http://www.w3.org/2001/XMLSchema#${value.slice(4)}`;
  }
  return value;
}

/**
 * Spells the same JSON-LD differently: our namespace under another prefix, ODRL
 * keys and terms as full IRIs, actions as `{"@id"}`, `type` and `@id` for
 * `@type` and `uid`, one-item arrays as single values. Rewrites keys and
 * vocabulary values only, never field names or purposes.
 */
function respell(doc: Json): Json {
  const renameKey = (key: string) =>
    key === "@type"
      ? "type"
      : key === "uid"
        ? "@id"
        : key.startsWith("dsg:")
          ? `acme:${key.slice(4)}`
          : /^[a-zA-Z]+$/.test(key)
            ? ODRL + key
            : key;
  const walk = (node: Json, key: string): Json => {
    if (Array.isArray(node)) {
      const items = node.map((n) => walk(n, key));
      return items.length === 1 && key !== "@context" ? (items[0] as Json) : items;
    }
    if (typeof node === "string") return respellValue(node, key);
    if (node === null || typeof node !== "object") return node;
    return Object.fromEntries(
      Object.entries(node).map(([k, v]) =>
        k === "@context" ? [k, v] : [renameKey(k), walk(v, k)],
      ),
    );
  };
  const respelled = walk(doc, "") as { [key: string]: Json };
  respelled["@context"] = [
    "http://www.w3.org/ns/odrl.jsonld",
    { acme: "https://w3id.org/dsg/terms#", "acme:partner": { "@type": "@id" } },
  ];
  return respelled;
}

describe("ODRL round trip", () => {
  it("gives back every valid agreement input", () => {
    fc.assert(
      fc.property(agreementInput, (raw) => {
        const input = AgreementInput.parse(raw);
        expect(roundTrip(input)).toEqual(input);
      }),
      { numRuns: 500 },
    );
  });

  it("gives back every valid agreement input under another base IRI", () => {
    const base = fc.constantFrom(
      "https://gateway.example/agreements/",
      "urn:acme:agreement:",
      "tag:x,2026:",
    );
    fc.assert(
      fc.property(agreementInput, base, (raw, baseIri) => {
        const input = AgreementInput.parse(raw);
        expect(roundTrip(input, undefined, baseIri)).toEqual(input);
      }),
      { numRuns: 100 },
    );
  });

  it("reads the same document spelled with other prefixes, full IRIs and single values", () => {
    fc.assert(
      fc.property(agreementInput, (raw) => {
        const input = AgreementInput.parse(raw);
        expect(roundTrip(input, respell)).toEqual(input);
      }),
      { numRuns: 200 },
    );
  });

  it("exports a stored agreement as its terms only (status, version and times stay out)", () => {
    fc.assert(
      fc.property(agreementInput, id, fc.integer({ min: 1, max: 99 }), (raw, reason, version) => {
        const input = AgreementInput.parse(raw);
        const stored = Agreement.parse({
          ...input,
          valueShares: input.valueShares ?? [{ partner: input.provider, bps: 10_000 }],
          status: "suspended",
          statusReason: reason,
          version,
          createdAt: input.validFrom,
          updatedAt: input.validUntil,
        });
        const { status, statusReason, version: v, createdAt, updatedAt, ...terms } = stored;
        expect(agreementToOdrl(stored)).toEqual(agreementToOdrl(terms));
        expect(roundTrip(stored)).toEqual(AgreementInput.parse(terms));
      }),
      { numRuns: 50 },
    );
  });

  it("keeps the contract's example, a quota without limits and an empty pseudonymize list", () => {
    for (const raw of [
      contractExample,
      { ...contractExample, quota: {}, pseudonymize: [], actions: ["deliver", "read"] },
      { ...contractExample, quota: undefined, price: undefined, purposes: undefined },
    ]) {
      const input = AgreementInput.parse(raw);
      expect(roundTrip(input)).toEqual(input);
    }
  });

  it("exports plain JSON, the same every time", () => {
    fc.assert(
      fc.property(agreementInput, (raw) => {
        const input = AgreementInput.parse(raw);
        const doc = agreementToOdrl(input);
        expect(viaJson(doc)).toEqual(doc);
        expect(agreementToOdrl(input)).toEqual(doc);
      }),
      { numRuns: 100 },
    );
  });
});
