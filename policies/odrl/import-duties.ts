/**
 * The duties of an imported permission: `compensate` refined by `payAmount`
 * (an exact decimal in a QUDT currency unit) and `unitOfCount` (dsg:perRequest
 * or dsg:perRecord), and `delete` within an `elapsedTime` of whole days
 * (retention). Any other duty is a term outside the subset.
 */
import type { ActiveContext } from "./context.ts";
import { decimalToMicros } from "./decimal.ts";
import { noUnit, once, operand, readConstraintNode } from "./import-constraints.ts";
import { invalid, join, unsupported } from "./issues.ts";
import {
  type Allowed,
  expectClass,
  items,
  type Member,
  Node,
  pick,
  readIri,
  readTyped,
  single,
} from "./node.ts";
import { CURRENCY_UNIT_NS, dsg, odrl, RDF_NS } from "./vocabulary.ts";

export interface PriceTerms {
  currency?: string;
  perRequest?: number;
  perRecord?: number;
}

export interface DutyTerms {
  price?: PriceTerms;
  retentionDays?: number;
}

const DUTY_KEYS: Allowed = {
  "@type": "@type",
  [odrl("action")]: "action",
  [odrl("constraint")]: "constraint",
};
const REFINED_ACTION_KEYS: Allowed = {
  "@id": "@id",
  [`${RDF_NS}value`]: "rdf:value",
  [odrl("refinement")]: "refinement",
};
const DUTY_ACTIONS = { [odrl("compensate")]: "compensate", [odrl("delete")]: "delete" } as const;
const PRICE_UNITS = { [dsg("perRequest")]: "perRequest", [dsg("perRecord")]: "perRecord" } as const;

export function readDuties(member: Member | undefined, context: ActiveContext): DutyTerms {
  const terms: DutyTerms = {};
  for (const item of member === undefined ? [] : items(member)) {
    const node = Node.read(item.value, item.field, context, DUTY_KEYS);
    expectClass(node, context, odrl("Duty"), "Duty");
    const action = readDutyAction(node.required(odrl("action")), context);
    const constraint = node.get(odrl("constraint"));
    if (action.name === "compensate") {
      if (constraint !== undefined) {
        unsupported(constraint.field, "a constraint on compensate is outside the subset");
      }
      if (action.refinement === undefined) {
        invalid(join(action.field, "refinement"), "is required: payAmount and unitOfCount");
      }
      terms.price = addPrice(terms.price ?? {}, action.refinement, context);
    } else {
      if (action.refinement !== undefined) {
        unsupported(action.refinement.field, "a refinement of delete is outside the subset");
      }
      once(terms.retentionDays, item.field, "delete duty");
      if (constraint === undefined) {
        invalid(join(node.field, "constraint"), "is required: elapsedTime lteq P<days>D");
      }
      terms.retentionDays = readRetention(constraint, context);
    }
  }
  return terms;
}

/**
 * A duty's action: a term, `{"@id": term}`, or an action with refinements,
 * `{ "rdf:value": {"@id": term}, "refinement": [...] }`.
 */
function readDutyAction(member: Member, context: ActiveContext) {
  const action = single(member);
  if (typeof action.value === "string") {
    return { name: pick(action, context, DUTY_ACTIONS, "duty action"), field: action.field };
  }
  const node = Node.read(action.value, action.field, context, REFINED_ACTION_KEYS);
  const id = node.get("@id");
  const value = node.get(`${RDF_NS}value`);
  if (id !== undefined && value !== undefined) invalid(value.field, "says again what @id says");
  const name = pick(id ?? node.required(`${RDF_NS}value`), context, DUTY_ACTIONS, "duty action");
  return { name, field: action.field, refinement: node.get(odrl("refinement")) };
}

/** Adds one compensate duty (its amount, currency and what it is paid per) to the price. */
function addPrice(price: PriceTerms, refinement: Member, context: ActiveContext): PriceTerms {
  let amount: { micros: number; currency: string; field: string } | undefined;
  let per: "perRequest" | "perRecord" | undefined;
  for (const item of items(refinement)) {
    const node = readConstraintNode(item, context);
    const left = pick(
      node.required(odrl("leftOperand")),
      context,
      { [odrl("payAmount")]: "payAmount", [odrl("unitOfCount")]: "unitOfCount" } as const,
      "leftOperand of compensate",
    );
    pick(node.required(odrl("operator")), context, { [odrl("eq")]: true }, `operator of ${left}`);
    if (left === "payAmount") {
      once(amount, item.field, "payAmount");
      amount = readAmount(node, context);
    } else {
      noUnit(node, "unitOfCount");
      once(per, item.field, "unitOfCount");
      per = pick(operand(node), context, PRICE_UNITS, "unitOfCount");
    }
  }
  if (amount === undefined) invalid(refinement.field, "needs a payAmount refinement");
  if (per === undefined) {
    invalid(refinement.field, "needs a unitOfCount refinement: dsg:perRequest or dsg:perRecord");
  }
  once(price[per], refinement.field, `compensate duty ${per}`);
  if (price.currency !== undefined && price.currency !== amount.currency) {
    unsupported(amount.field, `a second currency (${amount.currency}) is outside the subset`);
  }
  return { ...price, currency: amount.currency, [per]: amount.micros };
}

function readAmount(node: Node, context: ActiveContext) {
  const unit = node.get(odrl("unit"));
  if (unit === undefined) invalid(join(node.field, "unit"), "is required: the currency");
  const iri = readIri(unit, context);
  const field = single(unit).field;
  if (!iri.startsWith(CURRENCY_UNIT_NS)) {
    unsupported(
      field,
      `unit "${iri}" of payAmount is outside the subset (${CURRENCY_UNIT_NS}<code>)`,
    );
  }
  const currency = iri.slice(CURRENCY_UNIT_NS.length);
  if (!/^[A-Z]{3}$/.test(currency)) invalid(field, "must name an ISO 4217 currency code");
  const amount = readTyped(operand(node), context, "decimal");
  const micros = decimalToMicros(amount.text);
  if (micros === undefined) {
    invalid(amount.field, "must be a non-negative decimal of whole micro-units");
  }
  return { micros, currency, field };
}

function readRetention(constraint: Member, context: ActiveContext): number {
  const [first, ...rest] = items(constraint);
  if (first === undefined)
    return invalid(constraint.field, "is required: elapsedTime lteq P<days>D");
  if (rest[0] !== undefined)
    unsupported(rest[0].field, "a second constraint on delete is outside the subset");
  const node = readConstraintNode(first, context);
  pick(
    node.required(odrl("leftOperand")),
    context,
    { [odrl("elapsedTime")]: true },
    "leftOperand of delete",
  );
  pick(
    node.required(odrl("operator")),
    context,
    { [odrl("lteq")]: true },
    "operator of elapsedTime",
  );
  noUnit(node, "elapsedTime");
  const { text, field } = readTyped(operand(node), context, "duration");
  const days = /^P(\d+)D$/.exec(text)?.[1];
  if (days !== undefined) return Number(days);
  if (/^-?P(?=\d|T\d)(\d+Y)?(\d+M)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$/.test(text)) {
    unsupported(field, `duration ${text} is outside the subset: retention is whole days, P<days>D`);
  }
  return invalid(field, "must be an xsd:duration");
}
