import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AgreementInput } from "../../../policies/model.ts";
import { DSG_NS, ODRL_CONTEXT, odrlToAgreementInput } from "../../../policies/odrl/index.ts";
import { exampleDoc, exampleInput, refusal } from "./documents.ts";
import { type Json, setAt } from "./json.ts";

const imported = (doc: Json) => {
  const result = odrlToAgreementInput(doc);
  if (!result.ok) throw new Error(JSON.stringify(result.issues));
  return AgreementInput.parse(result.input);
};

/** Renames a top-level key, keeping its value. */
function rename(doc: Json, from: string, to: string): Json {
  const object = doc as { [key: string]: Json };
  const value = object[from];
  if (value === undefined) throw new Error(`no ${from}`);
  delete object[from];
  object[to] = value;
  return doc;
}

describe("JSON-LD contexts", () => {
  it("knows the ODRL 2.2 context by its URL, in either scheme", () => {
    expect(imported(exampleDoc())).toEqual(exampleInput);
    const https = setAt(exampleDoc(), "@context.0", ODRL_CONTEXT.replace("http:", "https:"));
    expect(imported(https)).toEqual(exampleInput);
  });

  it("reads `type` and `@id` for `@type` and `uid`", () => {
    const doc = rename(rename(exampleDoc(), "@type", "type"), "uid", "@id");
    expect(imported(doc)).toEqual(exampleInput);
  });

  it("expands terms the document defines itself", () => {
    const doc = setAt(exampleDoc(), "@context.1.grant", "odrl:permission");
    setAt(doc, "@context.1.withhold", { "@id": "http://www.w3.org/ns/odrl/2/prohibition" });
    setAt(doc, "@context.1.@version", 1.1);
    expect(imported(rename(rename(doc, "permission", "grant"), "prohibition", "withhold"))).toEqual(
      exampleInput,
    );
  });

  it("takes our namespace under any prefix", () => {
    const doc = setAt(exampleDoc(), "@context.1", { x: DSG_NS });
    rename(rename(doc, "dsg:pseudonymize", "x:pseudonymize"), "dsg:valueShares", "x:valueShares");
    setAt(doc, "permission.0.target.refinement.0.leftOperand", `${DSG_NS}field`);
    setAt(doc, "prohibition.0.target.refinement.0.leftOperand", "x:field");
    for (const duty of [0, 1]) {
      const path = `permission.0.duty.${duty}.action.0.refinement.1.rightOperand.@id`;
      setAt(doc, path, String(duty === 0 ? "x:perRequest" : `${DSG_NS}perRecord`));
    }
    for (const share of [0, 1]) {
      rename(setAt(doc, `x:valueShares.${share}.dsg:partner`, undefined), "@context", "@context");
      setAt(
        doc,
        `x:valueShares.${share}.x:partner`,
        `urn:dsg:partner:${exampleInput.valueShares?.[share]?.partner}`,
      );
      const bps = exampleInput.valueShares?.[share]?.bps ?? 0;
      setAt(doc, `x:valueShares.${share}.dsg:bps`, undefined);
      setAt(doc, `x:valueShares.${share}.x:bps`, bps);
    }
    expect(imported(doc)).toEqual(exampleInput);
  });

  it("refuses term definitions that refer to each other in a cycle", () => {
    const doc = setAt(setAt(exampleDoc(), "@context.1.a", "b"), "@context.1.b", "a");
    expect(refusal(doc)).toMatchObject({ code: "invalid_request", field: "@context.1.a" });
  });
});

describe("what the import leaves to AgreementInput", () => {
  it("passes values on for the model to judge (an unknown currency, zero bps)", () => {
    const doc = exampleDoc();
    setAt(
      doc,
      "permission.0.duty.0.action.0.refinement.0.unit",
      "http://qudt.org/vocab/currency/XXX",
    );
    setAt(
      doc,
      "permission.0.duty.1.action.0.refinement.0.unit",
      "http://qudt.org/vocab/currency/XXX",
    );
    setAt(doc, "dsg:valueShares.0.dsg:bps", 0);
    const result = odrlToAgreementInput(doc);
    expect(result.ok).toBe(true);
    const parsed = AgreementInput.safeParse(result.ok ? result.input : undefined);
    expect(parsed.error?.issues.map((i) => i.path.join("."))).toEqual([
      "price.currency",
      "valueShares.0.bps",
    ]);
  });

  it("accepts a payAmount written as a JSON integer (exact), in major units", () => {
    const doc = setAt(exampleDoc(), "permission.0.duty.1.action.0.refinement.0.rightOperand", 3);
    expect(imported(doc).price.perRecord).toBe(3_000_000);
  });
});

describe("hostile contexts", () => {
  it("refuses term definitions nested too deep, without exhausting the stack", () => {
    const doc = exampleDoc();
    for (let i = 0; i < 5_000; i++) setAt(doc, `@context.1.t${i}`, `t${i + 1}`);
    setAt(doc, "@context.1.t5000", "https://example.org/end");
    expect(refusal(doc)).toMatchObject({ code: "invalid_request", field: "@context.1" });
    const chain = exampleDoc();
    for (let i = 0; i < 100; i++) setAt(chain, `@context.1.t${i}`, `t${i + 1}`);
    setAt(chain, "@context.1.t100", "https://example.org/end");
    const issue = refusal(chain);
    expect(issue.code).toBe("invalid_request");
    expect(issue.field).toMatch(/^@context\.1\.t\d+$/);
    expect(issue.message).toContain("too deep");
  });
});

describe("no network, ever", () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it("never calls fetch, not even for an unknown context", () => {
    const fetch = vi.fn(() => {
      throw new Error("no network");
    });
    vi.stubGlobal("fetch", fetch);
    imported(exampleDoc());
    const unknown = setAt(exampleDoc(), "@context.0", "https://example.org/context.jsonld");
    expect(refusal(unknown)).toMatchObject({ code: "unsupported_odrl_term", field: "@context.0" });
    expect(fetch).not.toHaveBeenCalled();
  });

  it("has no way to reach the network in its source", () => {
    const dir = join(import.meta.dirname, "../../../policies/odrl");
    const sources = readdirSync(dir).filter((f) => f.endsWith(".ts"));
    expect(sources.length).toBeGreaterThan(0);
    for (const file of sources) {
      const text = readFileSync(join(dir, file), "utf8");
      expect(text, file).not.toMatch(/\bfetch\b|XMLHttpRequest|WebSocket|\bhttps?\.request/);
      expect(text, file).not.toMatch(/(?<![.\w])(?:require|import)\s*\(/);
      for (const [, from] of text.matchAll(/from\s+"([^"]+)"/g)) {
        expect(from, file).toMatch(/^\.\.?\/[\w./-]+\.ts$/);
      }
    }
  });
});
