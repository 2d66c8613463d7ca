/**
 * The IRIs of the ODRL mapping: the ODRL 2.2 and XML Schema namespaces, the
 * gateway's own `dsg` terms, and how our ids become IRIs. The export writes
 * these; the import compares expanded IRIs against them.
 */
import type { Action } from "../model.ts";

/** The ODRL 2.2 JSON-LD context, known by its URL: never fetched. */
export const ODRL_CONTEXT = "http://www.w3.org/ns/odrl.jsonld";

export const ODRL_NS = "http://www.w3.org/ns/odrl/2/";
export const RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";
export const XSD_NS = "http://www.w3.org/2001/XMLSchema#";
/** The gateway's own terms (prefix `dsg`), for what ODRL has no term for. */
export const DSG_NS = "https://w3id.org/dsg/terms#";
/** The ODRL profile the export declares: ODRL 2.2 plus the `dsg` terms. */
export const DSG_PROFILE = "https://w3id.org/dsg/odrl-profile";
/** ISO 4217 currencies as QUDT currency units, e.g. `…/currency/EUR`. */
export const CURRENCY_UNIT_NS = "http://qudt.org/vocab/currency/";

export const DEFAULT_AGREEMENT_BASE = "urn:dsg:agreement:";
export const DEFAULT_OFFER_BASE = "urn:dsg:offer:";
export const PARTNER_BASE = "urn:dsg:partner:";
export const DATASET_BASE = "urn:dsg:dataset:";

export const odrl = (term: string): string => ODRL_NS + term;
export const xsd = (term: string): string => XSD_NS + term;
export const dsg = (term: string): string => DSG_NS + term;

/** The inline context for our own terms, emitted after the ODRL context. */
export const DSG_CONTEXT = {
  dsg: DSG_NS,
  "dsg:partner": { "@type": "@id" },
  "dsg:valueShares": { "@container": "@list" },
} as const;

/**
 * Our actions and the ODRL actions they are exported as. `read`: the consumer
 * obtains data from the asset. `deliver` is `stream` ("to deliver the asset in
 * real-time"): the provider pushes, the consumer (the assignee) receives.
 * `distribute` would mean the consumer may pass the data on to third parties,
 * which no agreement grants.
 */
export const ODRL_ACTION_OF: Readonly<Record<Action, "read" | "stream">> = {
  read: "read",
  deliver: "stream",
};

/** The `dsg` units of a `count` constraint, and the quota each one states. */
export const QUOTA_UNITS = {
  requestsPerDay: dsg("requestsPerDay"),
  recordsPerMonth: dsg("recordsPerMonth"),
} as const;

/** The `unitOfCount` values of a `compensate` refinement, and the price each one states. */
export const PRICE_UNITS = {
  perRequest: "dsg:perRequest",
  perRecord: "dsg:perRecord",
} as const;
