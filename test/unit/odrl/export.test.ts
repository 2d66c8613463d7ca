import { describe, expect, it } from "vitest";
import { EXAMPLE_AGREEMENT as contractExample } from "../../../policies/demo/ecosystem.ts";
import { AgreementInput } from "../../../policies/model.ts";
import {
  agreementToOdrl,
  DSG_NS,
  ODRL_CONTEXT,
  type OdrlConstraint,
} from "../../../policies/odrl/index.ts";

const example = AgreementInput.parse(contractExample);
const doc = agreementToOdrl(example);
const [permission] = doc.permission;
const partner = (id: string) => `urn:dsg:partner:${id}`;
const dataset = `urn:dsg:dataset:${example.dataset}`;
const constraintOn = (left: string, operator: string): OdrlConstraint | undefined =>
  permission?.constraint.find((c) => c.leftOperand === left && c.operator === operator);

describe("agreementToOdrl on the contract's example", () => {
  it("is an ODRL Agreement with the ODRL context and our own terms' context", () => {
    expect(doc["@context"][0]).toBe(ODRL_CONTEXT);
    expect(doc["@context"][1].dsg).toBe(DSG_NS);
    expect(doc["@type"]).toBe("Agreement");
    expect(doc.uid).toBe(`urn:dsg:agreement:${example.id}`);
  });

  it("grants one permission per action, from the provider to the consumer, on the granted fields", () => {
    expect(doc.permission).toHaveLength(example.actions.length);
    expect(permission).toMatchObject({
      assigner: partner(example.provider),
      assignee: partner(example.consumer),
      action: "read",
      target: {
        "@type": "AssetCollection",
        source: dataset,
        refinement: [
          { leftOperand: "dsg:field", operator: "isAnyOf", rightOperand: example.fields },
        ],
      },
    });
  });

  it("constrains purpose and validity", () => {
    expect(constraintOn("purpose", "isAnyOf")?.rightOperand).toEqual(example.purposes);
    expect(constraintOn("dateTime", "gteq")?.rightOperand).toEqual({
      "@value": example.validFrom,
      "@type": "xsd:dateTime",
    });
    expect(constraintOn("dateTime", "lt")?.rightOperand).toEqual({
      "@value": example.validUntil,
      "@type": "xsd:dateTime",
    });
  });

  it("states the quotas as counts with a dsg unit", () => {
    const counts = permission?.constraint.filter((c) => c.leftOperand === "count");
    expect(counts).toEqual([
      {
        leftOperand: "count",
        operator: "lteq",
        rightOperand: example.quota?.requestsPerDay,
        unit: `${DSG_NS}requestsPerDay`,
      },
      {
        leftOperand: "count",
        operator: "lteq",
        rightOperand: example.quota?.recordsPerMonth,
        unit: `${DSG_NS}recordsPerMonth`,
      },
    ]);
  });

  it("owes compensation per request and per record, in the currency, as exact decimals", () => {
    const compensations = permission?.duty.filter((d) => Array.isArray(d.action));
    const currency = `http://qudt.org/vocab/currency/${example.price.currency}`;
    // 0 and 2000 micro-units of EUR.
    expect(compensations).toEqual([
      {
        action: [
          {
            "rdf:value": { "@id": "odrl:compensate" },
            refinement: [
              {
                leftOperand: "payAmount",
                operator: "eq",
                rightOperand: { "@value": "0.000000", "@type": "xsd:decimal" },
                unit: currency,
              },
              {
                leftOperand: "unitOfCount",
                operator: "eq",
                rightOperand: { "@id": "dsg:perRequest" },
              },
            ],
          },
        ],
      },
      {
        action: [
          {
            "rdf:value": { "@id": "odrl:compensate" },
            refinement: [
              {
                leftOperand: "payAmount",
                operator: "eq",
                rightOperand: { "@value": "0.002000", "@type": "xsd:decimal" },
                unit: currency,
              },
              {
                leftOperand: "unitOfCount",
                operator: "eq",
                rightOperand: { "@id": "dsg:perRecord" },
              },
            ],
          },
        ],
      },
    ]);
  });

  it("owes deletion within the retention period", () => {
    expect(permission?.duty.filter((d) => d.action === "delete")).toEqual([
      {
        action: "delete",
        constraint: [
          {
            leftOperand: "elapsedTime",
            operator: "lteq",
            rightOperand: { "@value": `P${example.retentionDays}D`, "@type": "xsd:duration" },
          },
        ],
      },
    ]);
  });

  it("prohibits every field that is not granted, for each granted action", () => {
    expect(doc.prohibition).toEqual([
      {
        target: {
          "@type": "AssetCollection",
          source: dataset,
          refinement: [
            { leftOperand: "dsg:field", operator: "isNoneOf", rightOperand: example.fields },
          ],
        },
        assigner: partner(example.provider),
        assignee: partner(example.consumer),
        action: "read",
      },
    ]);
  });

  it("carries pseudonymization and value shares as dsg terms", () => {
    expect(doc["dsg:pseudonymize"]).toEqual(example.pseudonymize);
    expect(doc["dsg:valueShares"]).toEqual(
      example.valueShares?.map((s) => ({ "dsg:partner": partner(s.partner), "dsg:bps": s.bps })),
    );
    expect(doc["dsg:quota"]).toBeUndefined();
  });
});

describe("agreementToOdrl on other agreements", () => {
  it("exports deliver as stream (the consumer receives), never as distribute", () => {
    const both = agreementToOdrl(
      AgreementInput.parse({ ...contractExample, actions: ["deliver", "read"] }),
    );
    expect(both.permission.map((p) => p.action)).toEqual(["stream", "read"]);
    expect(both.prohibition.map((p) => p.action)).toEqual(["stream", "read"]);
  });

  it("leaves out what the agreement does not state", () => {
    const { purposes, quota, retentionDays, pseudonymize, valueShares, ...rest } = contractExample;
    const bare = agreementToOdrl(AgreementInput.parse(rest));
    const [first] = bare.permission;
    expect(first?.constraint.map((c) => c.leftOperand)).toEqual(["dateTime", "dateTime"]);
    expect(first?.duty.some((d) => d.action === "delete")).toBe(false);
    expect(bare).not.toHaveProperty("dsg:pseudonymize");
    expect(bare).not.toHaveProperty("dsg:valueShares");
    expect(bare).not.toHaveProperty("dsg:quota");
  });

  it("marks a quota that states no limit", () => {
    const unlimited = agreementToOdrl(AgreementInput.parse({ ...contractExample, quota: {} }));
    expect(unlimited["dsg:quota"]).toEqual({});
    expect(unlimited.permission[0]?.constraint.some((c) => c.leftOperand === "count")).toBe(false);
  });

  it("builds the uid on the given base IRI", () => {
    const baseIri = "https://gateway.example/agreements/";
    expect(agreementToOdrl(example, { baseIri }).uid).toBe(baseIri + example.id);
  });
});
