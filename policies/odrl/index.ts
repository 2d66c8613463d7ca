/**
 * Agreements as ODRL 2.2 (https://www.w3.org/TR/odrl-model/), both ways, so
 * operators can exchange them with standard tooling. Pure: no I/O, no clock.
 * JSON-LD contexts are never fetched: the ODRL 2.2 context is built in and
 * known by its URL, our own terms come in an inline context.
 *
 * The document is an ODRL `Agreement` in compact JSON-LD:
 *
 *   "@context": ["http://www.w3.org/ns/odrl.jsonld",
 *                { "dsg": "https://w3id.org/dsg/terms#", … }]
 *   "@type": "Agreement", "profile": "https://w3id.org/dsg/odrl-profile"
 *
 * | our field           | ODRL                                                                 |
 * |---------------------|----------------------------------------------------------------------|
 * | id                  | `uid` = baseIri + id (default base `urn:dsg:agreement:`)             |
 * | provider / consumer | every rule's `assigner` / `assignee` = `urn:dsg:partner:<id>`        |
 * | dataset + fields    | every rule's `target`: `{ "@type": "AssetCollection", "source":      |
 * |                     | "urn:dsg:dataset:<id>", "refinement": [dsg:field isAnyOf [fields]] }`|
 * | actions             | one `permission` per action, in order: read → `read` (the consumer   |
 * |                     | obtains data), deliver → `stream` ("deliver the asset in real time": |
 * |                     | the provider pushes, the consumer receives). Not `distribute`: that  |
 * |                     | is supplying the asset to third parties, which no agreement grants.  |
 * | purposes            | constraint `purpose` `isAnyOf` [purposes] (left out when none)       |
 * | validFrom/validUntil| constraints `dateTime` `gteq` / `lt` an `xsd:dateTime`               |
 * | quota               | constraints `count` `lteq` n with `unit` dsg:requestsPerDay (released|
 * |                     | exchanges of the agreement, all actions, per UTC day) or             |
 * |                     | dsg:recordsPerMonth (records released per UTC month); a quota with   |
 * |                     | no limit is `"dsg:quota": {}`                                        |
 * | price               | two duties `compensate`, each refined by `payAmount` `eq` an exact   |
 * |                     | `xsd:decimal` in the currency's major unit (six fraction digits: the |
 * |                     | micro-units; never a float) with `unit` the QUDT currency            |
 * |                     | `http://qudt.org/vocab/currency/<ISO 4217>`, and by `unitOfCount`    |
 * |                     | `eq` dsg:perRequest / dsg:perRecord. Always both, zero included, so  |
 * |                     | the currency round-trips.                                            |
 * | retentionDays       | duty `delete` with constraint `elapsedTime` `lteq` `P<n>D`           |
 * | (what is not        | one `prohibition` per permitted action on the dataset refined by     |
 * |  granted)           | dsg:field `isNoneOf` [fields]: every other field, core ones included |
 * | pseudonymize        | `dsg:pseudonymize`: [field paths]                                    |
 * | valueShares         | `dsg:valueShares`: [{ `dsg:partner`: partner IRI, `dsg:bps`: n }],   |
 * |                     | an ordered list (the order breaks rounding ties)                     |
 *
 * `dsg` terms (https://w3id.org/dsg/terms#): `field` (a left operand: a dot
 * path inside a record, naming that field and everything under it), `quota`,
 * `requestsPerDay`, `recordsPerMonth`, `perRequest`, `perRecord`,
 * `pseudonymize` (fields whose values leave as a keyed HMAC, stable within the
 * agreement), `valueShares`, `partner`, `bps` (basis points; 10000 = all).
 * Stored state (status, version, times) is not part of the terms and is not
 * exported.
 *
 * An offer (../offers.ts) exports the same way as an ODRL `Offer`
 * (`uid` `urn:dsg:offer:<id>`): the provider is every rule's `assigner`, there
 * is no `assignee`, and instead of the `dateTime` window the permission holds
 * for the offer's `durationDays` from the approval (`elapsedTime` `lteq`
 * `P<n>D`). The catalog (`GET /v1/catalog` as JSON-LD) embeds offers as the
 * `odrl:hasPolicy` of each `dcat:Dataset`.
 *
 * The import reads exactly this subset back: `@type` or `type`, `uid` or `@id`,
 * keys and terms under any prefix or as full IRIs (the document's context is
 * processed, without I/O), a term or `{"@id"}`, one value or an array (or
 * `@list`) of them, literals plain or typed. Something present that the subset
 * lacks (an unknown context URL, class, key, action, duty, operator, left
 * operand, unit, datatype, logical constraint, profile, a second instance of a
 * term, permissions with differing terms) answers `unsupported_odrl_term`;
 * something missing, malformed or of the wrong type answers `invalid_request`.
 * Both name the field as the rest of the API does (`permission.0.action`), and
 * the message names the term. Values the model judges (id patterns aside:
 * currency codes, bps, timestamps, bounds) are left to `AgreementInput`.
 */
export { agreementToOdrl, type OfferTerms, offerToOdrl } from "./export.ts";
export { odrlToAgreementInput } from "./import.ts";
export type { OdrlIssue, OdrlIssueCode } from "./issues.ts";
export type {
  OdrlAgreement,
  OdrlAssetCollection,
  OdrlConstraint,
  OdrlDuty,
  OdrlImport,
  OdrlOffer,
  OdrlOptions,
  OdrlPermission,
  OdrlProhibition,
} from "./types.ts";
export {
  DATASET_BASE,
  DEFAULT_OFFER_BASE,
  DSG_CONTEXT,
  DSG_NS,
  DSG_PROFILE,
  ODRL_CONTEXT,
  ODRL_NS,
  PARTNER_BASE,
} from "./vocabulary.ts";
