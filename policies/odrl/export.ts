/**
 * Agreement → ODRL 2.2 `Agreement` (compact JSON-LD). The mapping is described
 * in ./index.ts; ./import.ts reads the same shape back.
 */
import type { Agreement, AgreementInput } from "../model.ts";
import { microsToDecimal } from "./decimal.ts";
import type {
  OdrlAgreement,
  OdrlAssetCollection,
  OdrlConstraint,
  OdrlDuty,
  OdrlOptions,
} from "./types.ts";
import {
  CURRENCY_UNIT_NS,
  DATASET_BASE,
  DEFAULT_AGREEMENT_BASE,
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
      constraint: constraintsOf(agreement),
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

function constraintsOf(agreement: Agreement | AgreementInput): OdrlConstraint[] {
  const constraints: OdrlConstraint[] = [];
  const purposes = agreement.purposes ?? [];
  if (purposes.length > 0) {
    constraints.push({ leftOperand: "purpose", operator: "isAnyOf", rightOperand: [...purposes] });
  }
  constraints.push(
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
  );
  for (const unit of ["requestsPerDay", "recordsPerMonth"] as const) {
    const limit = agreement.quota?.[unit];
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

function dutiesOf(agreement: Agreement | AgreementInput): OdrlDuty[] {
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
  if (agreement.retentionDays !== undefined) {
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
