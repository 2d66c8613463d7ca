import { describe, expect, it } from "vitest";
import { constraintPath, dutyPath, exampleDoc, refusal } from "./documents.ts";
import { getAt, type Json, setAt } from "./json.ts";

interface Case {
  readonly name: string;
  /** Changes the exported example; answers the path of the term outside the subset. */
  readonly change: (doc: Json) => string;
  /** How the message names the term. */
  readonly term: string;
}

/** Sets `value` at the path `at(doc)` and answers that path. */
const put =
  (at: (doc: Json) => string, value: Json) =>
  (doc: Json): string => {
    const path = at(doc);
    setAt(doc, path, value);
    return path;
  };
const fixed = (path: string) => () => path;

const cases: Case[] = [
  {
    name: "an unknown action",
    change: put(fixed("permission.0.action"), "distribute"),
    term: "distribute",
  },
  { name: "a broader action", change: put(fixed("permission.0.action"), "use"), term: "use" },
  {
    name: "an action no context defines",
    change: put(fixed("permission.0.action"), "peek"),
    term: "peek",
  },
  {
    name: "a refined action",
    change: (doc) => {
      setAt(doc, "permission.0.action", { "rdf:value": { "@id": "odrl:read" }, refinement: [] });
      return "permission.0.action.rdf:value";
    },
    term: "rdf:value",
  },
  {
    name: "an unknown operator of dateTime",
    change: put((d) => `${constraintPath(d, "dateTime", "gteq")}.operator`, "gt"),
    term: "gt",
  },
  {
    name: "an unknown operator of purpose",
    change: put((d) => `${constraintPath(d, "purpose")}.operator`, "isAllOf"),
    term: "isAllOf",
  },
  {
    name: "an unknown left operand",
    change: put((d) => `${constraintPath(d, "purpose")}.leftOperand`, "spatial"),
    term: "spatial",
  },
  {
    name: "a logical constraint",
    change: (doc) => {
      const path = constraintPath(doc, "purpose");
      setAt(doc, path, { or: [getAt(doc, path) as Json] });
      return `${path}.or`;
    },
    term: "or",
  },
  {
    name: "an unknown count unit",
    change: put(
      (d) => `${constraintPath(d, "count")}.unit`,
      "https://w3id.org/dsg/terms#requestsPerHour",
    ),
    term: "requestsPerHour",
  },
  {
    name: "a second purpose constraint",
    change: (doc) => {
      const list = getAt(doc, "permission.0.constraint") as Json[];
      list.push(getAt(doc, constraintPath(doc, "purpose")) as Json);
      return `permission.0.constraint.${list.length - 1}`;
    },
    term: "purpose",
  },
  {
    name: "an unknown duty",
    change: put((d) => `${dutyPath(d, "delete")}.action`, "attribute"),
    term: "attribute",
  },
  {
    name: "an unknown refined duty",
    change: put((d) => `${dutyPath(d, "perRecord")}.action.0.rdf:value`, { "@id": "odrl:inform" }),
    term: "odrl:inform",
  },
  {
    name: "a currency unit outside QUDT currencies",
    change: put(
      (d) => `${dutyPath(d, "perRecord")}.action.0.refinement.0.unit`,
      "http://dbpedia.org/resource/Euro",
    ),
    term: "dbpedia.org/resource/Euro",
  },
  {
    name: "a payAmount typed xsd:double",
    change: put(
      (d) => `${dutyPath(d, "perRecord")}.action.0.refinement.0.rightOperand.@type`,
      "xsd:double",
    ),
    term: "XMLSchema#double",
  },
  {
    name: "a retention in months",
    change: put((d) => `${dutyPath(d, "delete")}.constraint.0.rightOperand.@value`, "P1M"),
    term: "P1M",
  },
  { name: "another policy class", change: put(fixed("@type"), "Offer"), term: "Offer" },
  { name: "a policy-level obligation", change: put(fixed("obligation"), []), term: "obligation" },
  { name: "an unknown dsg term", change: put(fixed("dsg:discount"), 5), term: "dsg:discount" },
  {
    name: "another profile",
    change: put(fixed("profile"), "https://example.org/profile"),
    term: "example.org/profile",
  },
  {
    name: "an unknown context URL",
    change: put(fixed("@context.0"), "https://example.org/odrl.jsonld"),
    term: "https://example.org/odrl.jsonld",
  },
  {
    name: "a single unknown context URL",
    change: put(fixed("@context"), "https://schema.org/"),
    term: "https://schema.org/",
  },
  {
    name: "a @vocab in the inline context",
    change: put(fixed("@context.1.@vocab"), "https://example.org/"),
    term: "@vocab",
  },
  { name: "a nested context", change: put(fixed("permission.0.@context"), {}), term: "@context" },
  {
    name: "a whole-dataset target",
    change: put(fixed("permission.0.target"), "urn:dsg:dataset:vehicle-telemetry"),
    term: "urn:dsg:dataset:vehicle-telemetry",
  },
  {
    name: "a prohibition that is not the complement of the grant",
    change: put(fixed("prohibition.0.target.refinement.0.rightOperand"), ["vin"]),
    term: "isNoneOf",
  },
  {
    name: "a prohibition on another dataset",
    change: put(fixed("prohibition.0.target.source"), "urn:dsg:dataset:other"),
    term: "target dataset",
  },
  {
    name: "a rightOperandReference",
    change: put(
      (d) => `${constraintPath(d, "purpose")}.rightOperandReference`,
      "https://example.org/p",
    ),
    term: "rightOperandReference",
  },
  {
    name: "dsg terms without their prefix in the context (outermost first)",
    change: (doc) => {
      setAt(doc, "@context", "http://www.w3.org/ns/odrl.jsonld");
      return "dsg:pseudonymize";
    },
    term: "dsg:pseudonymize",
  },
];

describe("odrlToAgreementInput refuses terms outside the subset", () => {
  it.each(cases)("$name", ({ change, term }) => {
    const doc = exampleDoc();
    const field = change(doc);
    const issue = refusal(doc);
    expect(issue).toMatchObject({ code: "unsupported_odrl_term", field });
    expect(issue.message).toContain(term);
  });

  it("refuses permissions whose terms differ, naming the part that differs", () => {
    const doc = exampleDoc(["read", "deliver"]);
    const path = constraintPath(doc, "dateTime", "lt").replace("permission.0", "permission.1");
    setAt(doc, `${path}.rightOperand.@value`, "2030-01-01T00:00:00Z");
    expect(refusal(doc)).toMatchObject({
      code: "unsupported_odrl_term",
      field: "permission.1.constraint",
    });
  });

  const differences: [string, Json][] = [
    ["permission.1.target.refinement.0.rightOperand", ["vin"]],
    ["permission.1.target.source", "urn:dsg:dataset:other"],
    ["permission.1.assignee", "urn:dsg:partner:someone-else"],
  ];
  it.each(differences)("refuses permissions that differ at %s", (path, value) => {
    const doc = setAt(exampleDoc(["read", "deliver"]), path, value);
    expect(refusal(doc)).toMatchObject({ code: "unsupported_odrl_term", field: path });
  });

  it("refuses a second permission for the same action", () => {
    const doc = exampleDoc(["read", "deliver"]);
    setAt(doc, "permission.1.action", "read");
    expect(refusal(doc)).toMatchObject({
      code: "unsupported_odrl_term",
      field: "permission.1.action",
    });
  });

  it("names the first term outside the subset", () => {
    const doc = exampleDoc();
    setAt(doc, "permission.0.action", "distribute");
    setAt(doc, `${dutyPath(doc, "delete")}.action`, "attribute");
    expect(refusal(doc)).toMatchObject({ field: "permission.0.action" });
  });
});
