/**
 * Agreement → ODRL 2.2 `Agreement`, offer → ODRL 2.2 `Offer` (compact
 * JSON-LD). The mapping is described in ./index.ts; ./import.ts reads the
 * agreement shape back.
 */
import type { Agreement, AgreementInput, Price, Quota } from "../model.ts";
import { microsToDecimal } from "./decimal.ts";
import type {
  OdrlAgreement,
  OdrlAssetCollection,
  OdrlConstraint,
  OdrlDuty,
  OdrlOffer,
  OdrlOptions,
} from "./types.ts";
import {
  CURRENCY_UNIT_NS,
  DATASET_BASE,
  DEFAULT_AGREEMENT_BASE,
  DEFAULT_OFFER_BASE,
  DSG_CONTEXT,
  DSG_PROFILE,
  ODRL_ACTION_OF,
  ODRL_CONTEXT,
  PARTNER_BASE,
  PRICE_UNITS,
  QUOTA_UNITS,
} from "./vocabulary.ts";

/** The agreement's terms as an ODRL `Agreement`; pure, a plain JSON object. */
export function agreementToOdrl(
  agreement: Agreement | AgreementInput,
  options: OdrlOptions = {},
): OdrlAgreement {
  const parties = {
    assigner: PARTNER_BASE + agreement.provider,
    assignee: PARTNER_BASE + agreement.consumer,
  };
  const dataset = DATASET_BASE + agreement.dataset;
  const quota = agreement.quota;
  const quotaStatesNoLimit =
    quota !== undefined &&
    quota.requestsPerDay === undefined &&
    quota.recordsPerMonth === undefined;
  return {
    "@context": [ODRL_CONTEXT, DSG_CONTEXT],
    "@type": "Agreement",
    uid: (options.baseIri ?? DEFAULT_AGREEMENT_BASE) + agreement.id,
    profile: DSG_PROFILE,
    permission: agreement.actions.map((action) => ({
      target: fieldsOf(dataset, "isAnyOf", agreement.fields),
      ...parties,
      action: ODRL_ACTION_OF[action],
      constraint: constraintsOf(agreement, validityOf(agreement)),
      duty: dutiesOf(agreement),
    })),
    prohibition: agreement.actions.map((action) => ({
      target: fieldsOf(dataset, "isNoneOf", agreement.fields),
      ...parties,
      action: ODRL_ACTION_OF[action],
    })),
    ...(agreement.pseudonymize && { "dsg:pseudonymize": [...agreement.pseudonymize] }),
    ...(agreement.valueShares && {
      "dsg:valueShares": agreement.valueShares.map((s) => ({
        "dsg:partner": PARTNER_BASE + s.partner,
        "dsg:bps": s.bps,
      })),
    }),
    ...(quotaStatesNoLimit && { "dsg:quota": {} }),
  };
}

/** The dataset's fields named (`isAnyOf`) or all but them (`isNoneOf`). */
function fieldsOf(
  dataset: string,
  operator: "isAnyOf" | "isNoneOf",
  fields: readonly string[],
): OdrlAssetCollection {
  return {
    "@type": "AssetCollection",
    source: dataset,
    refinement: [{ leftOperand: "dsg:field", operator, rightOperand: [...fields] }],
  };
}

const literal = (value: string, type: string) => ({ "@value": value, "@type": `xsd:${type}` });

/** What limits a rule in both kinds of policy: purposes, the time it holds, quotas. */
interface RuleTerms {
  readonly purposes?: readonly string[] | undefined;
  readonly quota?: Quota | null | undefined;
}

function constraintsOf(terms: RuleTerms, time: readonly OdrlConstraint[]): OdrlConstraint[] {
  const constraints: OdrlConstraint[] = [];
  const purposes = terms.purposes ?? [];
  if (purposes.length > 0) {
    constraints.push({ leftOperand: "purpose", operator: "isAnyOf", rightOperand: [...purposes] });
  }
  constraints.push(...time);
  for (const unit of ["requestsPerDay", "recordsPerMonth"] as const) {
    const limit = terms.quota?.[unit];
    if (limit !== undefined) {
      constraints.push({
        leftOperand: "count",
        operator: "lteq",
        rightOperand: limit,
        unit: QUOTA_UNITS[unit],
      });
    }
  }
  return constraints;
}

/** An agreement holds from validFrom (inclusive) to validUntil (exclusive). */
const validityOf = (agreement: Agreement | AgreementInput): OdrlConstraint[] => [
  {
    leftOperand: "dateTime",
    operator: "gteq",
    rightOperand: literal(agreement.validFrom, "dateTime"),
  },
  {
    leftOperand: "dateTime",
    operator: "lt",
    rightOperand: literal(agreement.validUntil, "dateTime"),
  },
];

function dutiesOf(agreement: {
  readonly price?: Price | undefined;
  readonly retentionDays?: number | null | undefined;
}): OdrlDuty[] {
  const price = agreement.price ?? { currency: "EUR", perRequest: 0, perRecord: 0 };
  const duties: OdrlDuty[] = (["perRequest", "perRecord"] as const).map((per) => ({
    action: [
      {
        "rdf:value": { "@id": "odrl:compensate" },
        refinement: [
          {
            leftOperand: "payAmount",
            operator: "eq",
            rightOperand: literal(microsToDecimal(price[per] ?? 0), "decimal"),
            unit: CURRENCY_UNIT_NS + price.currency,
          },
          { leftOperand: "unitOfCount", operator: "eq", rightOperand: { "@id": PRICE_UNITS[per] } },
        ],
      },
    ],
  }));
  if (agreement.retentionDays !== undefined && agreement.retentionDays !== null) {
    duties.push({
      action: "delete",
      constraint: [
        {
          leftOperand: "elapsedTime",
          operator: "lteq",
          rightOperand: literal(`P${agreement.retentionDays}D`, "duration"),
        },
      ],
    });
  }
  return duties;
}

/** The terms of an offer, as ../offers.ts keeps them. */
export interface OfferTerms extends RuleTerms {
  readonly id: string;
  readonly dataset: string;
  readonly provider: string;
  readonly actions: readonly Agreement["actions"][number][];
  readonly fields: readonly string[];
  readonly pseudonymize?: readonly string[] | undefined;
  readonly price: Price;
  readonly quota?: Quota | null | undefined;
  readonly retentionDays?: number | null | undefined;
  readonly valueShares?: readonly { readonly partner: string; readonly bps: number }[] | undefined;
  readonly durationDays: number;
}

/**
 * An offer as an ODRL 2.2 `Offer`: the agreement it would become, with the
 * provider as every rule's `assigner` and no assignee (anyone the catalog
 * shows it to may ask for it). Instead of a fixed validity, the permission
 * holds for `durationDays` from the approval: an `elapsedTime` `lteq`
 * `P<n>D` constraint.
 */
export function offerToOdrl(offer: OfferTerms, options: OdrlOptions = {}): OdrlOffer {
  const parties = { assigner: PARTNER_BASE + offer.provider };
  const dataset = DATASET_BASE + offer.dataset;
  const duration: OdrlConstraint = {
    leftOperand: "elapsedTime",
    operator: "lteq",
    rightOperand: literal(`P${offer.durationDays}D`, "duration"),
  };
  return {
    "@context": [ODRL_CONTEXT, DSG_CONTEXT],
    "@type": "Offer",
    uid: (options.baseIri ?? DEFAULT_OFFER_BASE) + offer.id,
    profile: DSG_PROFILE,
    permission: offer.actions.map((action) => ({
      target: fieldsOf(dataset, "isAnyOf", offer.fields),
      ...parties,
      action: ODRL_ACTION_OF[action],
      constraint: constraintsOf(offer, [duration]),
      duty: dutiesOf(offer),
    })),
    prohibition: offer.actions.map((action) => ({
      target: fieldsOf(dataset, "isNoneOf", offer.fields),
      ...parties,
      action: ODRL_ACTION_OF[action],
    })),
    ...(offer.pseudonymize !== undefined &&
      offer.pseudonymize.length > 0 && { "dsg:pseudonymize": [...offer.pseudonymize] }),
    ...(offer.valueShares && {
      "dsg:valueShares": offer.valueShares.map((s) => ({
        "dsg:partner": PARTNER_BASE + s.partner,
        "dsg:bps": s.bps,
      })),
    }),
  };
}
