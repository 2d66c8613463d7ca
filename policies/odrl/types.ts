/**
 * The shape of the ODRL documents the export writes (compact JSON-LD, plain
 * JSON values), and what the import answers.
 */
import type { OdrlIssue } from "./issues.ts";
import type { DSG_CONTEXT, ODRL_CONTEXT } from "./vocabulary.ts";

/** A typed literal, e.g. `{ "@value": "2026-01-01T00:00:00Z", "@type": "xsd:dateTime" }`. */
export interface OdrlLiteral {
  readonly "@value": string;
  readonly "@type": string;
}

export interface OdrlConstraint {
  readonly leftOperand: string;
  readonly operator: string;
  readonly rightOperand:
    | number
    | string
    | readonly string[]
    | OdrlLiteral
    | { readonly "@id": string };
  readonly unit?: string;
}

/** The granted (or withheld) fields of a dataset: the dataset refined by `dsg:field`. */
export interface OdrlAssetCollection {
  readonly "@type": "AssetCollection";
  readonly source: string;
  readonly refinement: readonly OdrlConstraint[];
}

/** An action with refinements, e.g. `compensate` refined by `payAmount`. */
export interface OdrlRefinedAction {
  readonly "rdf:value": { readonly "@id": string };
  readonly refinement: readonly OdrlConstraint[];
}

export interface OdrlDuty {
  readonly action: string | readonly OdrlRefinedAction[];
  readonly constraint?: readonly OdrlConstraint[];
}

export interface OdrlProhibition {
  readonly target: OdrlAssetCollection;
  readonly assigner: string;
  readonly assignee: string;
  readonly action: string;
}

/** A rule of an offer: the provider assigns, nobody is the assignee yet. */
export type OdrlOfferRule<R extends OdrlProhibition> = Omit<R, "assignee">;

export interface OdrlPermission extends OdrlProhibition {
  readonly constraint: readonly OdrlConstraint[];
  readonly duty: readonly OdrlDuty[];
}

export interface OdrlValueShare {
  readonly "dsg:partner": string;
  readonly "dsg:bps": number;
}

/** An ODRL 2.2 `Agreement` as the export writes it. */
export interface OdrlAgreement {
  readonly "@context": readonly [typeof ODRL_CONTEXT, typeof DSG_CONTEXT];
  readonly "@type": "Agreement";
  readonly uid: string;
  readonly profile: string;
  readonly permission: readonly OdrlPermission[];
  readonly prohibition: readonly OdrlProhibition[];
  readonly "dsg:pseudonymize"?: readonly string[];
  readonly "dsg:valueShares"?: readonly OdrlValueShare[];
  /** Present (empty) only for a quota that states no limit, so it round-trips. */
  readonly "dsg:quota"?: Readonly<Record<string, never>>;
}

/** An ODRL 2.2 `Offer` as the export writes it (an offer of ../offers.ts). */
export interface OdrlOffer {
  readonly "@context": readonly [typeof ODRL_CONTEXT, typeof DSG_CONTEXT];
  readonly "@type": "Offer";
  readonly uid: string;
  readonly profile: string;
  readonly permission: readonly OdrlOfferRule<OdrlPermission>[];
  readonly prohibition: readonly OdrlOfferRule<OdrlProhibition>[];
  readonly "dsg:pseudonymize"?: readonly string[];
  readonly "dsg:valueShares"?: readonly OdrlValueShare[];
}

export interface OdrlOptions {
  /** The IRI an agreement's id is appended to for its `uid`; default `urn:dsg:agreement:`. */
  readonly baseIri?: string;
}

/** The input (for the caller to validate with `AgreementInput`), or why there is none. */
export type OdrlImport =
  | { readonly ok: true; readonly input: unknown }
  | { readonly ok: false; readonly issues: OdrlIssue[] };
