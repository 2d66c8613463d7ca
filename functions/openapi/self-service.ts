/**
 * The self-service operations (catalog, offers, agreement requests) as data,
 * with their schemas, for document.ts: the partners' routes (scope
 * `catalog`) and the operators' ones.
 */
import * as z from "zod";
import { AGREEMENT_RULE_CODES } from "../../policies/codes.ts";
import { AgreementRequest, Offer } from "../../policies/offers.ts";
import {
  AdminRequestListQuery,
  AgreementRequestInput,
  CatalogQuery,
  OfferInput,
  OfferListQuery,
  OptionalReasonBody,
  RequestListQuery,
} from "../catalog/schemas.ts";
import { queryParameters, ref } from "./generate.ts";
import { at, type OperationSpec, type ProblemRef } from "./operations.ts";

const listOf = (item: z.ZodType) =>
  z.object({
    items: z.array(item),
    next: z.string().nullable().describe("cursor of the next page, or null on the last one"),
  });

const CatalogOffer = Offer.pick({
  id: true,
  dataset: true,
  actions: true,
  fields: true,
  pseudonymize: true,
  purposes: true,
  price: true,
  quota: true,
  retentionDays: true,
  valueShares: true,
  durationDays: true,
  createdAt: true,
});

const CatalogEntry = z.object({
  dataset: z.string(),
  owner: z.string(),
  title: z.string().describe("the dataset's title, or its id"),
  description: z.string().nullable(),
  offers: z.array(CatalogOffer).min(1),
});

export const SELF_SERVICE_REQUEST_SCHEMAS: Readonly<Record<string, z.ZodType>> = {
  OfferInput,
  AgreementRequestInput,
  OptionalReasonBody,
};

export const SELF_SERVICE_RESPONSE_SCHEMAS: Readonly<Record<string, z.ZodType>> = {
  Offer,
  OfferList: listOf(Offer),
  CatalogOffer,
  CatalogEntry,
  CatalogPage: listOf(CatalogEntry),
  AgreementRequest,
  AgreementRequestList: listOf(AgreementRequest),
};

export const SELF_SERVICE_TAGS: readonly { name: string; description: string }[] = [
  {
    name: "Catalog",
    description:
      "Partner self-service (token scope catalog, any active partner): the catalog, offers on the caller's own datasets, agreement requests.",
  },
  {
    name: "Admin: offers and requests",
    description: "Operators: offers on any dataset, and every agreement request.",
  },
];

export const SELF_SERVICE_SCOPE_NOTE =
  "any active partner: the catalog, offers on its own datasets, agreement requests; nothing else";

const EXAMPLES = {
  offer: {
    actions: ["read"],
    fields: ["vin", "mileage", "speed.avg"],
    purposes: ["insurance-pricing"],
    price: { currency: "EUR", perRequest: 0, perRecord: 1500 },
    quota: { requestsPerDay: 1000 },
    retentionDays: 30,
    durationDays: 90,
  },
  request: { offer: "off-telemetry-basic", fields: ["vin", "mileage"] },
  reason: { reason: "terms agreed with the partner" },
} as const;

const JSON_TYPE = "application/json";
const body = (name: string, example: unknown, required = true) => ({
  required,
  content: { [JSON_TYPE]: { schema: ref(name), example } },
});
const answer = (status: number, description: string, name: string) => ({
  [String(status)]: { description, content: { [JSON_TYPE]: { schema: ref(name) } } },
});

const OFFER_RULES = AGREEMENT_RULE_CODES.filter(
  (c) => c !== "invalid_validity" && c !== "unsafe_pattern" && c !== "unsupported_odrl_term",
);
const REQUEST_RULES = AGREEMENT_RULE_CODES.filter(
  (c) => c !== "unsafe_pattern" && c !== "unsupported_odrl_term",
);
const PARTNER_STATUS: ProblemRef[] = ["partner_revoked", "partner_suspended", "partner_offboarded"];
const NOT_PARTY: ProblemRef[] = ["not_party", ...PARTNER_STATUS];

const offerOps = (
  prefix: "/v1" | "/admin",
  guard: OperationSpec["guard"],
  tag: string,
  who: string,
): OperationSpec[] => {
  const forbidden: ProblemRef[] = prefix === "/v1" ? NOT_PARTY : [];
  const id = prefix === "/v1" ? "Own" : "";
  return [
    {
      method: "post",
      path: `${prefix}/datasets/{id}/offers`,
      tag,
      operationId: `publish${id}Offer`,
      summary: `Publish an offer on ${who}`,
      description:
        "The terms an agreement made from it gets, checked by the agreement rules (a core field can never be offered; the same 422 codes). " +
        "validFrom of such an agreement is its approval, validUntil the approval plus durationDays.",
      guard,
      body: body("OfferInput", EXAMPLES.offer),
      success: answer(201, "The offer, active", "Offer"),
      problems: [...forbidden, "dataset_not_found", "conflict", ...at(422, ...OFFER_RULES)],
    },
    {
      method: "get",
      path: `${prefix}/datasets/{id}/offers`,
      tag,
      operationId: `list${id}Offers`,
      summary: `The offers on ${who}, newest first (withdrawn ones too unless status says)`,
      guard,
      parameters: queryParameters([OfferListQuery]),
      success: answer(200, "The offers", "OfferList"),
      problems: [...forbidden, "dataset_not_found"],
    },
    {
      method: "delete",
      path: `${prefix}/datasets/{id}/offers/{offer}`,
      tag,
      operationId: `withdraw${id}Offer`,
      summary: "Withdraw an offer: it leaves the catalog and takes no new requests",
      description:
        "Pending requests made from it can then only be rejected or cancelled. A repeat answers the withdrawn offer.",
      guard,
      body: body("OptionalReasonBody", EXAMPLES.reason, false),
      success: answer(200, "The offer, withdrawn", "Offer"),
      problems: [...forbidden, "dataset_not_found", "offer_not_found", "conflict"],
    },
  ];
};

const stepOp = (
  prefix: "/v1" | "/admin",
  step: "approve" | "reject" | "cancel",
  guard: OperationSpec["guard"],
  tag: string,
): OperationSpec => {
  const who = prefix === "/v1" ? "Partner" : "Admin";
  const summaries = {
    approve: "Approve a request: its agreement is made (active, version 1) in the same step",
    reject: "Reject a request",
    cancel: "Cancel one's own request while it waits",
  };
  return {
    method: "post",
    path: `${prefix}/agreement-requests/{id}/${step}`,
    tag,
    operationId: `${step}AgreementRequest${who}`,
    summary: summaries[step],
    description:
      step === "cancel"
        ? "The consumer only, while the request is requested."
        : "The provider (scope catalog) or an operator, while the request is requested. Both parties get a signed event.",
    guard,
    body:
      step === "reject"
        ? body("ReasonBody", EXAMPLES.reason)
        : body("OptionalReasonBody", EXAMPLES.reason, false),
    success: answer(200, "The request after the step", "AgreementRequest"),
    problems: [
      ...(prefix === "/v1" ? NOT_PARTY : []),
      "agreement_request_not_found",
      "invalid_transition",
      "conflict",
      ...(step === "approve" ? at(422, ...REQUEST_RULES) : []),
    ],
  };
};

/** Every self-service operation; built on demand, as the rest of the table. */
export const selfServiceOperations = (): OperationSpec[] => [
  {
    method: "get",
    path: "/v1/catalog",
    tag: "Catalog",
    operationId: "getCatalog",
    summary: "The datasets the caller may ask for, each with its offers",
    description:
      "Filtered for the caller: export control, embargoes and denied parties as on every exchange; not its own datasets. " +
      "No core field name ever appears. With Accept: application/ld+json a DCAT 3 dcat:Catalog whose dcat:dataset entries carry their offers as " +
      "odrl:hasPolicy (odrl:Offer); the ODRL 2.2 context is named by its URL and never needs fetching, the rest is inline.",
    guard: "catalog",
    parameters: queryParameters([CatalogQuery]),
    success: {
      "200": {
        description: "A page of the catalog",
        content: {
          [JSON_TYPE]: { schema: ref("CatalogPage") },
          "application/ld+json": {
            schema: { type: "object", description: "a DCAT 3 dcat:Catalog (JSON-LD)" },
          },
        },
      },
    },
    problems: PARTNER_STATUS,
  },
  ...offerOps("/v1", "catalog", "Catalog", "one of the caller's own datasets"),
  {
    method: "post",
    path: "/v1/agreement-requests",
    tag: "Catalog",
    operationId: "requestAgreement",
    summary: "Ask for an offer (all of it, or some of its actions, fields, purposes)",
    description:
      "The request waits, state requested, for the provider's (or an operator's) approval. Until then no token can carry the agreement's scope.",
    guard: "catalog",
    body: body("AgreementRequestInput", EXAMPLES.request),
    success: answer(201, "The request, state requested", "AgreementRequest"),
    problems: [
      ...PARTNER_STATUS,
      "offer_not_found",
      "conflict",
      "not_in_offer",
      ...at(422, ...REQUEST_RULES),
    ],
  },
  {
    method: "get",
    path: "/v1/agreement-requests",
    tag: "Catalog",
    operationId: "listOwnAgreementRequests",
    summary: "The requests the caller is party to, newest first",
    guard: "catalog",
    parameters: queryParameters([RequestListQuery], {
      role: "Only those where the caller is the provider, or the consumer.",
    }),
    success: answer(200, "A page of requests", "AgreementRequestList"),
    problems: PARTNER_STATUS,
  },
  {
    method: "get",
    path: "/v1/agreement-requests/{id}",
    tag: "Catalog",
    operationId: "getOwnAgreementRequest",
    summary: "One request the caller is party to",
    guard: "catalog",
    success: answer(200, "The request", "AgreementRequest"),
    problems: [...PARTNER_STATUS, "agreement_request_not_found"],
  },
  stepOp("/v1", "approve", "catalog", "Catalog"),
  stepOp("/v1", "reject", "catalog", "Catalog"),
  stepOp("/v1", "cancel", "catalog", "Catalog"),
  ...offerOps("/admin", "admin", "Admin: offers and requests", "any dataset (for its owner)"),
  {
    method: "get",
    path: "/admin/agreement-requests",
    tag: "Admin: offers and requests",
    operationId: "listAgreementRequests",
    summary: "Every agreement request, newest first (state=requested: the pending ones)",
    guard: "admin",
    parameters: queryParameters([AdminRequestListQuery], {
      partner: "Only requests this partner is provider or consumer of.",
    }),
    success: answer(200, "A page of requests", "AgreementRequestList"),
  },
  {
    method: "get",
    path: "/admin/agreement-requests/{id}",
    tag: "Admin: offers and requests",
    operationId: "getAgreementRequest",
    summary: "One agreement request",
    guard: "admin",
    success: answer(200, "The request", "AgreementRequest"),
    problems: ["agreement_request_not_found"],
  },
  stepOp("/admin", "approve", "admin", "Admin: offers and requests"),
  stepOp("/admin", "reject", "admin", "Admin: offers and requests"),
];
