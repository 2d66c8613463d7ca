/**
 * Partner self-service, pure: offers on datasets (the terms an agreement made
 * from them gets), agreement requests made from offers, and the steps a
 * request may take. Zod in, decisions and broken rules as data out; the
 * agreement rules (./agreement-rules.ts) are the same ones operators meet.
 */
import * as z from "zod";
import {
  type Add,
  type AgreementContext,
  type AgreementDraft,
  checkFields,
  checkShares,
  type RuleIssue,
  sharesOf,
} from "./agreement-rules.ts";
import type { AgreementRuleCode, Reason } from "./codes.ts";
import { tradeComplianceIssues } from "./decide.ts";
import {
  Action,
  type Agreement,
  AgreementInput,
  AgreementTerms,
  type Dataset,
  FieldPath,
  Id,
  type Partner,
  Price,
  Purpose,
  Quota,
  type TradeRules,
  ValueShare,
} from "./model.ts";
import { partnerStatusAt } from "./status.ts";

const DAY_MS = 86_400_000;

const uniqueList = <T extends z.ZodType>(item: T, what: string) =>
  z.array(item).refine((xs) => new Set(xs).size === xs.length, `${what} must not repeat`);

// ---------------------------------------------------------------- offers

/** What an owner (or an operator) publishes on a dataset; the dataset is the path's. */
export const OfferInput = z.strictObject({
  /** Chosen by the publisher, or made by the gateway. */
  id: Id.optional(),
  actions: AgreementInput.shape.actions,
  fields: AgreementTerms.shape.fields,
  pseudonymize: AgreementTerms.shape.pseudonymize,
  purposes: AgreementTerms.shape.purposes,
  quota: AgreementTerms.shape.quota,
  price: AgreementTerms.shape.price,
  retentionDays: AgreementTerms.shape.retentionDays,
  valueShares: AgreementInput.shape.valueShares,
  /** How long an agreement made from the offer lasts, from its approval. */
  durationDays: z.int().min(1).max(36_500).default(365),
});
export type OfferInput = z.infer<typeof OfferInput>;

export const OfferStatus = z.enum(["active", "withdrawn"]);
export type OfferStatus = z.infer<typeof OfferStatus>;

/** The terms every offer and every request made from it carry. */
const OfferTerms = z.object({
  actions: z.array(Action),
  fields: z.array(FieldPath),
  pseudonymize: z.array(FieldPath),
  purposes: z.array(Purpose),
  price: Price,
  quota: Quota.nullable(),
  retentionDays: z.int().nullable(),
  valueShares: z.array(ValueShare),
  durationDays: z.int(),
});
export type OfferTerms = z.infer<typeof OfferTerms>;

export const Offer = z.object({
  id: Id,
  dataset: Id,
  /** The dataset's owner: the provider of every agreement made from the offer. */
  provider: Id,
  ...OfferTerms.shape,
  status: OfferStatus,
  createdAt: z.string(),
  updatedAt: z.string(),
  /** Who published it: the owner, or the operator client acting for it. */
  publishedBy: z.string(),
  withdrawnAt: z.string().optional(),
  withdrawnBy: z.string().optional(),
  withdrawReason: z.string().optional(),
});
export type Offer = z.infer<typeof Offer>;

/** An offer as a new stored value (defaults made explicit, shares resolved). */
export function newOffer(
  input: OfferInput,
  ids: { id: string; dataset: string; provider: string; publishedBy: string },
  now: Date,
): Offer {
  const at = now.toISOString();
  return {
    id: ids.id,
    dataset: ids.dataset,
    provider: ids.provider,
    actions: [...input.actions],
    fields: [...input.fields],
    pseudonymize: [...(input.pseudonymize ?? [])],
    purposes: [...input.purposes],
    price: input.price,
    quota: input.quota ?? null,
    retentionDays: input.retentionDays ?? null,
    valueShares: sharesOf({ provider: ids.provider, valueShares: input.valueShares }),
    durationDays: input.durationDays,
    status: "active",
    createdAt: at,
    updatedAt: at,
    publishedBy: ids.publishedBy,
  };
}

export interface OfferContext {
  readonly dataset?: Dataset | undefined;
  /** The dataset's owner. */
  readonly provider?: Partner | undefined;
  readonly sharePartners: AgreementContext["sharePartners"];
  readonly tradeRules: TradeRules;
}

/**
 * The agreement rules that hold before anyone asks: everything but the
 * consumer and the time window. A core field can never be offered.
 */
export function checkOffer(
  offer: Pick<Offer, "dataset" | "provider" | "fields" | "purposes" | "pseudonymize"> & {
    readonly valueShares?: readonly ValueShare[] | undefined;
  },
  ctx: OfferContext,
  now: Date,
): RuleIssue[] {
  const issues: RuleIssue[] = [];
  const add: Add = (code, message, field) =>
    issues.push(field === undefined ? { code, message } : { code, message, field });
  const { dataset, provider } = ctx;
  if (dataset === undefined) {
    add("dataset_not_found", `dataset ${offer.dataset} does not exist`, "dataset");
    return issues;
  }
  if (dataset.owner !== offer.provider) {
    add("provider_not_owner", `dataset ${dataset.id} is owned by ${dataset.owner}`, "provider");
  }
  if (provider === undefined) {
    add("partner_not_found", `partner ${offer.provider} does not exist`, "provider");
  } else if (partnerStatusAt(provider, now) !== "active") {
    add("partner_not_active", `partner ${provider.id} is ${partnerStatusAt(provider, now)}`);
  }
  checkFields(offer, dataset, add);
  checkShares(offer, ctx, add);
  for (const message of tradeComplianceIssues({ dataset, provider, tradeRules: ctx.tradeRules }))
    add("jurisdiction_blocked", message, "provider");
  return issues;
}

// ---------------------------------------------------------------- requests

export const AgreementRequestInput = z.strictObject({
  offer: Id,
  /** A subset of the offer's; default: all of them. */
  actions: uniqueList(Action, "actions").min(1).optional(),
  fields: uniqueList(FieldPath, "fields").min(1).max(1000).optional(),
  purposes: uniqueList(Purpose, "purposes").max(50).optional(),
});
export type AgreementRequestInput = z.infer<typeof AgreementRequestInput>;

export const REQUEST_STATES = ["requested", "agreed", "rejected", "cancelled"] as const;
export const RequestState = z.enum(REQUEST_STATES);
export type RequestState = z.infer<typeof RequestState>;

export const AgreementRequest = z.object({
  id: Id,
  offer: Id,
  dataset: Id,
  provider: Id,
  consumer: Id,
  ...OfferTerms.shape,
  state: RequestState,
  createdAt: z.string(),
  updatedAt: z.string(),
  /** The agreement the approval made; null until then. */
  agreement: Id.nullable(),
  /** Who took the last step (approve, reject, cancel) and why; null while requested. */
  decidedBy: z.string().nullable(),
  reason: z.string().nullable(),
});
export type AgreementRequest = z.infer<typeof AgreementRequest>;

export type RequestIssue = Reason<"not_in_offer">;

/**
 * The terms a request asks for: the offer's, narrowed to the actions, fields
 * and purposes asked (each must be the offer's). A pseudonymized field stays
 * pseudonymized; pseudonyms of fields not asked for fall away.
 */
export function requestTerms(
  offer: Offer,
  input: AgreementRequestInput,
): { ok: true; terms: OfferTerms } | { ok: false; issues: RequestIssue[] } {
  const issues: RequestIssue[] = [];
  const pick = <T extends string>(
    asked: readonly T[] | undefined,
    held: readonly T[],
    what: string,
  ) => {
    for (const [i, v] of (asked ?? []).entries()) {
      if (!held.includes(v))
        issues.push({
          code: "not_in_offer",
          message: `the offer holds no ${what} ${v}`,
          field: `${what === "purpose" ? "purposes" : `${what}s`}.${i}`,
        });
    }
    return asked === undefined ? [...held] : [...asked];
  };
  const actions = pick(input.actions, offer.actions, "action");
  const fields = pick(input.fields, offer.fields, "field");
  const purposes = pick(input.purposes, offer.purposes, "purpose");
  if (issues.length > 0) return { ok: false, issues };
  const covered = (p: string) => fields.some((f) => f === p || p.startsWith(`${f}.`));
  return {
    ok: true,
    terms: {
      actions,
      fields,
      pseudonymize: offer.pseudonymize.filter(covered),
      purposes,
      price: offer.price,
      quota: offer.quota,
      retentionDays: offer.retentionDays,
      valueShares: offer.valueShares,
      durationDays: offer.durationDays,
    },
  };
}

/** The agreement an approval makes: its id follows from the request's. */
export const agreementIdFor = (requestId: string): string =>
  `agr-${requestId.replace(/^req-/, "")}`;

/**
 * The agreement a request becomes when approved at `now`: active from now
 * for the offer's `durationDays`, with exactly the requested terms.
 */
export function agreementDraftOf(
  request: Pick<AgreementRequest, "id" | "dataset" | "provider" | "consumer"> & OfferTerms,
  now: Date,
): AgreementDraft & { id: string } & Pick<Agreement, "actions" | "valueShares"> {
  return {
    id: agreementIdFor(request.id),
    dataset: request.dataset,
    provider: request.provider,
    consumer: request.consumer,
    actions: [...request.actions],
    fields: [...request.fields],
    ...(request.pseudonymize.length > 0 ? { pseudonymize: [...request.pseudonymize] } : {}),
    purposes: [...request.purposes],
    validFrom: now.toISOString(),
    validUntil: new Date(now.getTime() + request.durationDays * DAY_MS).toISOString(),
    ...(request.quota === null ? {} : { quota: request.quota }),
    price: request.price,
    ...(request.retentionDays === null ? {} : { retentionDays: request.retentionDays }),
    valueShares: [...request.valueShares],
  };
}

/** The agreement made from a request, as stored: active, version 1. */
export function agreementOf(request: AgreementRequest, now: Date): Agreement {
  const at = now.toISOString();
  return {
    ...agreementDraftOf(request, now),
    status: "active",
    version: 1,
    createdAt: at,
    updatedAt: at,
  };
}

// ---------------------------------------------------------------- steps

export type RequestStep = "approve" | "reject" | "cancel";

/** Who takes a step: a partner (by its client id) or an operator. */
export type RequestActor =
  | { readonly kind: "partner"; readonly id: string }
  | { readonly kind: "operator"; readonly id: string };

const STEP_TO: Readonly<Record<RequestStep, RequestState>> = {
  approve: "agreed",
  reject: "rejected",
  cancel: "cancelled",
};

export type StepCode = "agreement_request_not_found" | "not_party" | "invalid_transition";

export type StepDecision =
  | { readonly ok: true; readonly to: RequestState }
  | { readonly ok: false; readonly code: StepCode; readonly message: string };

/**
 * Whether `actor` may take `step` on the request now. The provider (or an
 * operator) approves and rejects; the consumer cancels; each only from
 * `requested`. A partner that is no party does not learn the request exists.
 */
export function checkStep(
  request: Pick<AgreementRequest, "id" | "provider" | "consumer" | "state">,
  step: RequestStep,
  actor: RequestActor,
): StepDecision {
  if (actor.kind === "partner" && actor.id !== request.provider && actor.id !== request.consumer) {
    return {
      ok: false,
      code: "agreement_request_not_found",
      message: `agreement request ${request.id} does not exist`,
    };
  }
  const allowed =
    step === "cancel"
      ? actor.kind === "partner" && actor.id === request.consumer
      : actor.kind === "operator" || actor.id === request.provider;
  if (!allowed) {
    const who = step === "cancel" ? "the consumer" : "the provider or an operator";
    return { ok: false, code: "not_party", message: `only ${who} may ${step} this request` };
  }
  if (request.state !== "requested") {
    return {
      ok: false,
      code: "invalid_transition",
      message: `the request is ${request.state}; only a requested one can be ${STEP_TO[step]}`,
    };
  }
  return { ok: true, to: STEP_TO[step] };
}

/** The rule codes a request or an approval can break, as operators meet them. */
export type RequestRuleCode = AgreementRuleCode | "not_in_offer";
