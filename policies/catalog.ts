/**
 * The catalog, pure: which datasets a partner may ask for, how each is shown
 * (JSON, or DCAT 3 with ODRL offers as JSON-LD), and the guarantee that no
 * core field name is ever among what is shown. The store reads; this decides.
 */
import type { RuleIssue } from "./agreement-rules.ts";
import { tradeComplianceIssues } from "./decide.ts";
import type { Dataset, Partner, TradeRules } from "./model.ts";
import {
  DATASET_BASE,
  DSG_CONTEXT,
  ODRL_CONTEXT,
  ODRL_NS,
  offerToOdrl,
  PARTNER_BASE,
} from "./odrl/index.ts";
import { checkOffer, type Offer, type OfferContext } from "./offers.ts";
import { partnerStatusAt } from "./status.ts";

export const DCAT_NS = "http://www.w3.org/ns/dcat#";
export const DCT_NS = "http://purl.org/dc/terms/";

/** An offer as the catalog shows it: its terms, without who published it or when it was withdrawn. */
export interface CatalogOffer {
  readonly id: string;
  readonly dataset: string;
  readonly actions: Offer["actions"];
  readonly fields: readonly string[];
  readonly pseudonymize: readonly string[];
  readonly purposes: readonly string[];
  readonly price: Offer["price"];
  readonly quota: Offer["quota"];
  readonly retentionDays: number | null;
  readonly valueShares: Offer["valueShares"];
  readonly durationDays: number;
  readonly createdAt: string;
}

export interface CatalogEntry {
  readonly dataset: string;
  readonly owner: string;
  readonly title: string;
  readonly description: string | null;
  readonly offers: readonly CatalogOffer[];
}

/** The dataset's fields classified core, by the dot path they are listed under. */
export const coreFieldNames = (dataset: Pick<Dataset, "fields">): string[] =>
  Object.entries(dataset.fields)
    .filter(([, cls]) => cls === "core")
    .map(([name]) => name);

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * The core field a text names, if any: its dot path as a word of its own,
 * in any letter case (`Engine.Calibration` names `engine.calibration`;
 * `calibrations` does not name `calibration`).
 */
export function coreFieldNamedIn(
  text: string,
  dataset: Pick<Dataset, "fields">,
): string | undefined {
  return coreFieldNames(dataset).find((name) =>
    new RegExp(`(^|[^A-Za-z0-9_])${escapeRegExp(name)}($|[^A-Za-z0-9_])`, "i").test(text),
  );
}

/** Title and description may not name a core field (422 core_field_not_shareable). */
export function checkDatasetTexts(
  dataset: Pick<Dataset, "fields" | "title" | "description">,
): RuleIssue[] {
  const issues: RuleIssue[] = [];
  for (const field of ["title", "description"] as const) {
    const text = dataset[field];
    const named = text === undefined ? undefined : coreFieldNamedIn(text, dataset);
    if (named !== undefined) {
      issues.push({
        code: "core_field_not_shareable",
        message: `the ${field} names ${named}, a core field; the catalog shows it to every partner`,
        field,
      });
    }
  }
  return issues;
}

/**
 * Whether the caller may ask for the dataset at all: not its own, the owner
 * active, and trade compliance for the flow owner → caller holds (export
 * control, embargoes on either side, denied parties).
 */
export function datasetVisible(
  dataset: Dataset,
  owner: Partner | undefined,
  caller: Partner,
  tradeRules: TradeRules,
  now: Date,
): boolean {
  if (dataset.owner === caller.id) return false;
  if (owner === undefined || partnerStatusAt(owner, now) !== "active") return false;
  return (
    tradeComplianceIssues({ dataset, provider: owner, consumer: caller, tradeRules }).length === 0
  );
}

/**
 * The offers that still keep the agreement rules on the dataset as it is now
 * (a field reclassified core after publication takes its offers out of the
 * catalog), newest first.
 */
export function offersStillValid(offers: readonly Offer[], ctx: OfferContext, now: Date): Offer[] {
  return offers
    .filter((o) => o.status === "active" && checkOffer(o, ctx, now).length === 0)
    .sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0));
}

export function catalogOffer(o: Offer): CatalogOffer {
  return {
    id: o.id,
    dataset: o.dataset,
    actions: o.actions,
    fields: o.fields,
    pseudonymize: o.pseudonymize,
    purposes: o.purposes,
    price: o.price,
    quota: o.quota,
    retentionDays: o.retentionDays,
    valueShares: o.valueShares,
    durationDays: o.durationDays,
    createdAt: o.createdAt,
  };
}

/**
 * A dataset as the catalog lists it. A title or description that names a
 * core field (written before that rule, or since reclassified) is not shown.
 */
export function catalogEntry(dataset: Dataset, offers: readonly Offer[]): CatalogEntry {
  const shown = (text: string | undefined) =>
    text !== undefined && coreFieldNamedIn(text, dataset) === undefined ? text : undefined;
  return {
    dataset: dataset.id,
    owner: dataset.owner,
    title: shown(dataset.title) ?? dataset.id,
    description: shown(dataset.description) ?? null,
    offers: offers.map(catalogOffer),
  };
}

/** The inline context of the catalog document: DCAT and Dublin Core next to ODRL and ours. */
export const CATALOG_CONTEXT = { dcat: DCAT_NS, dct: DCT_NS } as const;

export interface CatalogDocumentOptions {
  /** The catalog's own IRI (the URL it is served at). */
  readonly id: string;
  /** The cursor of the next page, if there is one. */
  readonly next: string | null;
}

/**
 * The catalog as a DCAT 3 `dcat:Catalog` in compact JSON-LD: each entry a
 * `dcat:Dataset` whose offers are its `odrl:hasPolicy`, each an ODRL `Offer`
 * written by the ODRL export (under the document's context). The ODRL 2.2
 * context is named by its URL, which processors know and never fetch; the
 * rest is inline.
 */
export function catalogDocument(
  entries: readonly CatalogEntry[],
  options: CatalogDocumentOptions,
): Record<string, unknown> {
  return {
    "@context": [ODRL_CONTEXT, DSG_CONTEXT, CATALOG_CONTEXT],
    "@id": options.id,
    "@type": "dcat:Catalog",
    "dcat:dataset": entries.map((e) => ({
      "@id": DATASET_BASE + e.dataset,
      "@type": "dcat:Dataset",
      "dct:identifier": e.dataset,
      "dct:title": e.title,
      ...(e.description === null ? {} : { "dct:description": e.description }),
      "dct:publisher": { "@id": PARTNER_BASE + e.owner },
      "odrl:hasPolicy": e.offers.map((o) => {
        const { "@context": _context, ...policy } = offerToOdrl({ ...o, provider: e.owner });
        return policy;
      }),
    })),
    ...(options.next === null ? {} : { "dsg:next": options.next }),
  };
}

/** The IRI of `odrl:hasPolicy`, for readers of the expanded document. */
export const HAS_POLICY = `${ODRL_NS}hasPolicy`;
