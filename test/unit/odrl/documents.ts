/** The contract's example exported, as JSON, with the paths of its parts for mutating it. */
import { EXAMPLE_AGREEMENT as contractExample } from "../../../policies/demo/ecosystem.ts";
import { AgreementInput } from "../../../policies/model.ts";
import { agreementToOdrl, odrlToAgreementInput } from "../../../policies/odrl/index.ts";
import { getAt, type Json, viaJson } from "./json.ts";

export const exampleInput = AgreementInput.parse(contractExample);

/** A fresh copy of the exported example (both actions when `actions` says so). */
export const exampleDoc = (actions = exampleInput.actions): Json =>
  viaJson(agreementToOdrl({ ...exampleInput, actions }));

/** The path of the first permission's constraint on `left` (and `operator`). */
export function constraintPath(doc: Json, left: string, operator?: string): string {
  const list = getAt(doc, "permission.0.constraint");
  const i = Array.isArray(list)
    ? list.findIndex((c) => {
        const o = c as { leftOperand?: Json; operator?: Json };
        return o.leftOperand === left && (operator === undefined || o.operator === operator);
      })
    : -1;
  if (i < 0) throw new Error(`no ${left} constraint`);
  return `permission.0.constraint.${i}`;
}

/** The path of the first permission's duty: `perRequest`/`perRecord` compensation, or `delete`. */
export function dutyPath(doc: Json, which: "perRequest" | "perRecord" | "delete"): string {
  const list = getAt(doc, "permission.0.duty");
  const i = Array.isArray(list)
    ? list.findIndex((d) =>
        which === "delete"
          ? getAt(d, "action") === "delete"
          : getAt(d, "action.0.refinement.1.rightOperand.@id") === `dsg:${which}`,
      )
    : -1;
  if (i < 0) throw new Error(`no ${which} duty`);
  return `permission.0.duty.${i}`;
}

/** The single issue of a refused import (fails the test when the import succeeded). */
export function refusal(doc: unknown) {
  const result = odrlToAgreementInput(doc);
  if (result.ok) throw new Error("the import was expected to refuse the document");
  const [issue, ...rest] = result.issues;
  if (issue === undefined || rest.length > 0) throw new Error("expected exactly one issue");
  return issue;
}
