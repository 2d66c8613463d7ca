/**
 * The rules of an imported agreement: each permission or prohibition names its
 * target (the dataset refined to its fields), its assigner (the provider), its
 * assignee (the consumer) and one action; a permission adds its constraints
 * and duties.
 */
import { type Action, ID_PATTERN } from "../model.ts";
import type { ActiveContext } from "./context.ts";
import { type ConstraintTerms, readConstraintNode, readConstraints } from "./import-constraints.ts";
import { type DutyTerms, readDuties } from "./import-duties.ts";
import { invalid, join, unsupported } from "./issues.ts";
import {
  type Allowed,
  expectClass,
  items,
  type Member,
  Node,
  pick,
  readIri,
  readString,
  single,
} from "./node.ts";
import { DATASET_BASE, dsg, ODRL_ACTION_OF, odrl, PARTNER_BASE } from "./vocabulary.ts";

export interface RuleTerms {
  readonly node: Node;
  readonly dataset: string;
  readonly provider: string;
  readonly consumer: string;
  readonly action: Action;
  readonly fields: readonly string[];
  /** Where the target's dataset and fields are written. */
  readonly paths: { readonly source: string; readonly fields: string };
}

export type PermissionTerms = RuleTerms & ConstraintTerms & DutyTerms;

const RULE_KEYS: Allowed = {
  "@type": "@type",
  [odrl("target")]: "target",
  [odrl("assigner")]: "assigner",
  [odrl("assignee")]: "assignee",
  [odrl("action")]: "action",
};
const PERMISSION_KEYS: Allowed = {
  ...RULE_KEYS,
  [odrl("constraint")]: "constraint",
  [odrl("duty")]: "duty",
};
const TARGET_KEYS: Allowed = {
  "@type": "@type",
  [odrl("source")]: "source",
  [odrl("refinement")]: "refinement",
};
const ACTION_OF_ODRL: Readonly<Record<string, Action>> = Object.fromEntries(
  Object.entries(ODRL_ACTION_OF).map(([ours, theirs]) => [odrl(theirs), ours as Action]),
);

export function readPermission(member: Member, context: ActiveContext): PermissionTerms {
  const rule = readRule(member, context, "Permission", PERMISSION_KEYS);
  const constraints = readConstraints(rule.node.get(odrl("constraint")), context);
  const duties = readDuties(rule.node.get(odrl("duty")), context);
  const where = rule.node.get(odrl("constraint"))?.field ?? join(rule.node.field, "constraint");
  if (constraints.validFrom === undefined) {
    invalid(where, "needs a dateTime gteq constraint: the start of validity");
  }
  if (constraints.validUntil === undefined) {
    invalid(where, "needs a dateTime lt constraint: the end of validity");
  }
  return { ...rule, ...constraints, ...duties };
}

export function readProhibition(member: Member, context: ActiveContext): RuleTerms {
  return readRule(member, context, "Prohibition", RULE_KEYS);
}

function readRule(member: Member, context: ActiveContext, kind: string, keys: Allowed): RuleTerms {
  const node = Node.read(member.value, member.field, context, keys);
  expectClass(node, context, odrl(kind), kind);
  const operator = kind === "Permission" ? "isAnyOf" : "isNoneOf";
  return {
    node,
    ...readTarget(node.required(odrl("target")), context, operator),
    provider: readId(node.required(odrl("assigner")), context, PARTNER_BASE),
    consumer: readId(node.required(odrl("assignee")), context, PARTNER_BASE),
    action: pick(node.required(odrl("action")), context, ACTION_OF_ODRL, "action"),
  };
}

/** The target: an AssetCollection of the dataset refined by `dsg:field` `operator` the fields. */
function readTarget(member: Member, context: ActiveContext, operator: "isAnyOf" | "isNoneOf") {
  const target = single(member);
  if (typeof target.value === "string") {
    unsupported(
      target.field,
      `target "${target.value}" without a dsg:field refinement (the whole dataset) is outside the subset`,
    );
  }
  const node = Node.read(target.value, target.field, context, TARGET_KEYS);
  expectClass(node, context, odrl("AssetCollection"), "AssetCollection");
  const source = node.required(odrl("source"));
  const dataset = readId(source, context, DATASET_BASE);
  const refinement = node.required(odrl("refinement"));
  let fields: string[] | undefined;
  let fieldsAt = refinement.field;
  for (const item of items(refinement)) {
    const constraint = readConstraintNode(item, context);
    pick(
      constraint.required(odrl("leftOperand")),
      context,
      { [dsg("field")]: true },
      "leftOperand of target",
    );
    pick(
      constraint.required(odrl("operator")),
      context,
      { [odrl(operator)]: true },
      "operator of dsg:field",
    );
    const unit = constraint.get(odrl("unit"));
    if (unit !== undefined) unsupported(unit.field, "a unit on dsg:field is outside the subset");
    if (fields !== undefined)
      unsupported(item.field, "a second dsg:field refinement is outside the subset");
    const named = constraint.required(odrl("rightOperand"));
    fieldsAt = named.field;
    fields = items(named).map((f) => readString(f, context));
  }
  if (fields === undefined || fields.length === 0) {
    return invalid(fieldsAt, "needs a dsg:field refinement naming at least one field");
  }
  return { dataset, fields, paths: { source: source.field, fields: fieldsAt } };
}

/** The id in an IRI `base<id>` (the agreement, a partner, a dataset); the base is expanded too. */
export function readId(member: Member, context: ActiveContext, base: string): string {
  const iri = readIri(member, context);
  const prefix = context.iri(base);
  const id = iri.slice(prefix.length);
  if (!iri.startsWith(prefix) || !ID_PATTERN.test(id)) {
    invalid(single(member).field, `must be ${base}<id>, the id matching ${ID_PATTERN.source}`);
  }
  return id;
}
