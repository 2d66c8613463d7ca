/**
 * Why an ODRL document cannot be imported. The readers throw an `OdrlRefusal`
 * at the first problem; `odrlToAgreementInput` turns it into its answer. The
 * document is read from the outside in: a node's own keys are checked before
 * any of their values, then the values in the order the mapping reads them.
 *  - `unsupported_odrl_term`: something is there that the subset does not have
 *    (an unknown action, operator, left operand, context URL, duty, key...).
 *  - `invalid_request`: something is missing, malformed or of the wrong type.
 * `field` is the path of the offending member, keys joined by dots and array
 * positions as numbers (`permission.0.constraint.1.operator`), as the rest of
 * the API names fields; the document itself is `body`.
 */

export type OdrlIssueCode = "unsupported_odrl_term" | "invalid_request";

export interface OdrlIssue {
  readonly code: OdrlIssueCode;
  readonly message: string;
  readonly field: string;
}

export class OdrlRefusal extends Error {
  constructor(readonly issue: OdrlIssue) {
    super(`${issue.field}: ${issue.message}`);
  }
}

/** The path of a member: `""` is the document itself. */
export const join = (field: string, key: string | number): string =>
  field === "" ? String(key) : `${field}.${key}`;

const fieldName = (field: string): string => (field === "" ? "body" : field);

export function unsupported(field: string, message: string): never {
  throw new OdrlRefusal({ code: "unsupported_odrl_term", message, field: fieldName(field) });
}

export function invalid(field: string, message: string): never {
  throw new OdrlRefusal({ code: "invalid_request", message, field: fieldName(field) });
}

export const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
