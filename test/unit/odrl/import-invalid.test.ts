import { describe, expect, it } from "vitest";
import { constraintPath, dutyPath, exampleDoc, refusal } from "./documents.ts";
import { getAt, type Json, setAt } from "./json.ts";

interface Case {
  readonly name: string;
  /** Breaks the exported example; answers the path the refusal must name. */
  readonly change: (doc: Json) => string;
}

/** Sets `value` (undefined: deletes) at `at(doc)`; the refusal names `named(path)`. */
const put =
  (at: (doc: Json) => string, value: Json | undefined, named = (path: string) => path) =>
  (doc: Json): string => {
    const path = at(doc);
    setAt(doc, path, value);
    return named(path);
  };
const fixed = (path: string) => () => path;
const parent = (path: string) => path.slice(0, path.lastIndexOf("."));

const cases: Case[] = [
  { name: "no @context", change: put(fixed("@context"), undefined) },
  { name: "a context entry that is a number", change: put(fixed("@context.0"), 7) },
  {
    name: "an inline term without an IRI",
    change: put(fixed("@context.1.thing"), { "@type": "@id" }),
  },
  { name: "no uid", change: put(fixed("uid"), undefined) },
  {
    name: "a uid outside the base IRI",
    change: put(fixed("uid"), "https://example.org/agreements/agr-1"),
  },
  { name: "a uid whose id is not an id", change: put(fixed("uid"), "urn:dsg:agreement:Agr_1") },
  { name: "@type and type both", change: put(fixed("type"), "Agreement") },
  { name: "permission that is not a list of objects", change: put(fixed("permission"), 42) },
  { name: "no permission at all", change: put(fixed("permission"), []) },
  {
    name: "an assigner that is not a partner IRI",
    change: put(fixed("permission.0.assigner"), "fleetco"),
  },
  {
    name: "an assignee that is an object without @id",
    change: put(fixed("permission.0.assignee"), {}, (p) => `${p}.@id`),
  },
  { name: "a permission without action", change: put(fixed("permission.0.action"), undefined) },
  {
    name: "a target without refinement",
    change: put(fixed("permission.0.target.refinement"), undefined),
  },
  {
    name: "a target granting no field",
    change: put(fixed("permission.0.target.refinement.0.rightOperand"), []),
  },
  {
    name: "a field that is not a string",
    change: put(fixed("permission.0.target.refinement.0.rightOperand.1"), 3),
  },
  {
    name: "a constraint without operator",
    change: put((d) => `${constraintPath(d, "purpose")}.operator`, undefined),
  },
  {
    name: "a count that is not a number",
    change: put((d) => `${constraintPath(d, "count")}.rightOperand`, "many"),
  },
  {
    name: "a count that is not whole",
    change: put((d) => `${constraintPath(d, "count")}.rightOperand`, 2.5),
  },
  {
    name: "a count without unit",
    change: put((d) => `${constraintPath(d, "count")}.unit`, undefined),
  },
  {
    name: "a dateTime that is a number",
    change: put((d) => `${constraintPath(d, "dateTime", "lt")}.rightOperand`, 2027),
  },
  {
    name: "no start of validity",
    change: put((d) => constraintPath(d, "dateTime", "gteq"), undefined, parent),
  },
  {
    name: "a payAmount finer than a micro-unit",
    change: put(
      (d) => `${dutyPath(d, "perRecord")}.action.0.refinement.0.rightOperand.@value`,
      "0.0020001",
    ),
  },
  {
    name: "a payAmount that is a JSON float",
    change: put((d) => `${dutyPath(d, "perRecord")}.action.0.refinement.0.rightOperand`, 0.002),
  },
  {
    name: "a negative payAmount",
    change: put(
      (d) => `${dutyPath(d, "perRecord")}.action.0.refinement.0.rightOperand.@value`,
      "-1.5",
    ),
  },
  {
    name: "a payAmount without currency",
    change: put((d) => `${dutyPath(d, "perRecord")}.action.0.refinement.0.unit`, undefined),
  },
  {
    name: "a compensation not saying what it is paid per",
    change: put((d) => `${dutyPath(d, "perRecord")}.action.0.refinement.1`, undefined, parent),
  },
  {
    name: "a retention that is no duration",
    change: put((d) => `${dutyPath(d, "delete")}.constraint.0.rightOperand.@value`, "thirty days"),
  },
  { name: "a value share without bps", change: put(fixed("dsg:valueShares.1.dsg:bps"), undefined) },
  { name: "a value share with text bps", change: put(fixed("dsg:valueShares.0.dsg:bps"), "half") },
];

describe("odrlToAgreementInput refuses broken documents", () => {
  it.each([null, [], "Agreement", 42, true])("a document that is not an object: %j", (doc) => {
    expect(refusal(doc)).toMatchObject({ code: "invalid_request", field: "body" });
  });

  it.each(cases)("$name", ({ change }) => {
    const doc = exampleDoc();
    const field = change(doc);
    expect(refusal(doc)).toMatchObject({ code: "invalid_request", field });
  });

  it("names a missing member where it belongs", () => {
    const doc = exampleDoc();
    setAt(doc, "permission.0.assignee", undefined);
    const issue = refusal(doc);
    expect(issue).toMatchObject({ code: "invalid_request", field: "permission.0.assignee" });
    expect(issue.message).toContain("required");
    expect(getAt(exampleDoc(), "permission.0.assignee")).toBeTypeOf("string");
  });
});
