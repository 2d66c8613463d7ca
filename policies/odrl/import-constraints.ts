/**
 * The constraints of an imported permission: `purpose` isAnyOf, `dateTime`
 * gteq / lt (validity), `count` lteq with a `dsg` unit (quotas). Anything else
 * is a term outside the subset; each constraint may appear once.
 */
import type { ActiveContext } from "./context.ts";
import { invalid, join, unsupported } from "./issues.ts";
import {
  type Allowed,
  expectClass,
  items,
  type Member,
  Node,
  pick,
  readInteger,
  readIri,
  readString,
  readTyped,
  single,
} from "./node.ts";
import { odrl, QUOTA_UNITS } from "./vocabulary.ts";

export interface ConstraintTerms {
  purposes?: string[];
  validFrom?: string;
  validUntil?: string;
  quota: { requestsPerDay?: number; recordsPerMonth?: number };
}

export const CONSTRAINT_KEYS: Allowed = {
  "@type": "@type",
  [odrl("leftOperand")]: "leftOperand",
  [odrl("operator")]: "operator",
  [odrl("rightOperand")]: "rightOperand",
  [odrl("unit")]: "unit",
};

const LEFT_OPERANDS = {
  [odrl("purpose")]: "purpose",
  [odrl("dateTime")]: "dateTime",
  [odrl("count")]: "count",
} as const;

const QUOTA_OF_UNIT: ReadonlyMap<string, keyof typeof QUOTA_UNITS> = new Map([
  [QUOTA_UNITS.requestsPerDay, "requestsPerDay"],
  [QUOTA_UNITS.recordsPerMonth, "recordsPerMonth"],
]);

/** One constraint node, its class checked; what it constrains. */
export function readConstraintNode(member: Member, context: ActiveContext): Node {
  const node = Node.read(member.value, member.field, context, CONSTRAINT_KEYS);
  expectClass(node, context, odrl("Constraint"), "Constraint");
  return node;
}

export const operand = (node: Node) => node.required(odrl("rightOperand"));

/** Refuses a `unit` where the constraint has none. */
export function noUnit(node: Node, what: string): void {
  const unit = node.get(odrl("unit"));
  if (unit !== undefined)
    unsupported(unit.field, `a unit on a ${what} constraint is outside the subset`);
}

/** Refuses a second constraint saying what an earlier one said. */
export function once(previous: unknown, field: string, what: string): void {
  if (previous !== undefined) unsupported(field, `a second ${what} is outside the subset`);
}

export function readConstraints(
  member: Member | undefined,
  context: ActiveContext,
): ConstraintTerms {
  const terms: ConstraintTerms = { quota: {} };
  for (const item of member === undefined ? [] : items(member)) {
    const node = readConstraintNode(item, context);
    const left = pick(node.required(odrl("leftOperand")), context, LEFT_OPERANDS, "leftOperand");
    const operator = node.required(odrl("operator"));
    if (left === "purpose") {
      pick(operator, context, { [odrl("isAnyOf")]: true }, "operator of purpose");
      noUnit(node, "purpose");
      once(terms.purposes, item.field, "purpose constraint");
      terms.purposes = items(operand(node)).map((p) => readString(p, context));
      if (terms.purposes.length === 0) invalid(operand(node).field, "must name a purpose");
    } else if (left === "dateTime") {
      const bound = pick(
        operator,
        context,
        { [odrl("gteq")]: "validFrom", [odrl("lt")]: "validUntil" } as const,
        "operator of dateTime",
      );
      noUnit(node, "dateTime");
      once(terms[bound], item.field, `dateTime constraint for ${bound}`);
      terms[bound] = readTyped(operand(node), context, "dateTime").text;
    } else {
      pick(operator, context, { [odrl("lteq")]: true }, "operator of count");
      const unit = node.get(odrl("unit"));
      if (unit === undefined) {
        invalid(join(node.field, "unit"), "is required: dsg:requestsPerDay or dsg:recordsPerMonth");
      }
      const quota = quotaOf(unit, context);
      once(terms.quota[quota], item.field, `count constraint for ${quota}`);
      terms.quota[quota] = readInteger(operand(node), context);
    }
  }
  return terms;
}

function quotaOf(unit: Member, context: ActiveContext): keyof typeof QUOTA_UNITS {
  const iri = readIri(unit, context);
  const quota = QUOTA_OF_UNIT.get(iri);
  if (quota === undefined) {
    unsupported(single(unit).field, `unit "${iri}" of count is outside the supported subset`);
  }
  return quota;
}
