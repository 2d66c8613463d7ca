/**
 * The ODRL 2.2 JSON-LD context (http://www.w3.org/ns/odrl.jsonld), built in:
 * JSON-LD contexts are never fetched, so the one remote context a document may
 * name is known here by its URL. Only what expansion needs is kept: each term's
 * IRI (type coercions are implied by where the import reads a value). Two
 * typos of the published context (`neq` → `odrl:neg`, `industry` →
 * `odrl:industry:`) are corrected; neither term is in the supported subset.
 */
import { ODRL_CONTEXT, ODRL_NS, RDF_NS, XSD_NS } from "./vocabulary.ts";

const PREFIXES: Readonly<Record<string, string>> = {
  odrl: ODRL_NS,
  rdf: RDF_NS,
  rdfs: "http://www.w3.org/2000/01/rdf-schema#",
  owl: "http://www.w3.org/2002/07/owl#",
  skos: "http://www.w3.org/2004/02/skos/core#",
  dct: "http://purl.org/dc/terms/",
  xsd: XSD_NS,
  vcard: "http://www.w3.org/2006/vcard/ns#",
  foaf: "http://xmlns.com/foaf/0.1/",
  schema: "http://schema.org/",
  cc: "http://creativecommons.org/ns#",
};

/** Every term of the context whose IRI is `odrl:` + the term itself. */
const ODRL_TERMS = [
  // policies, conflicts, assets, parties
  "Policy Rule profile inheritFrom ConflictTerm conflict perm prohibit invalid",
  "Agreement Assertion Offer Privacy Request Set Ticket",
  "Asset AssetCollection relation hasPolicy target output partOf source",
  "Party PartyCollection function PartyScope assignee assigner assigneeOf assignerOf",
  "attributedParty attributingParty compensatedParty compensatingParty consentingParty",
  "consentedParty informedParty informingParty trackingParty trackedParty",
  "contractingParty contractedParty",
  // rules and actions
  "Action action includedIn implies Permission permission Prohibition prohibition obligation",
  "use grantUse aggregate annotate anonymize archive concurrentUse derive digitize display",
  "distribute execute extract give index install modify move play present print read",
  "reproduce sell stream textToSpeech transfer transform translate",
  "Duty duty consequence remedy acceptTracking attribute compensate delete",
  "ensureExclusivity include inform nextPolicy obtainConsent reviewPolicy uninstall watermark",
  // constraints
  "Constraint LogicalConstraint constraint refinement Operator operator RightOperand",
  "rightOperand rightOperandReference LeftOperand leftOperand unit status",
  "absolutePosition absoluteSpatialPosition absoluteTemporalPosition absoluteSize count",
  "dateTime delayPeriod deliveryChannel elapsedTime event fileFormat industry language media",
  "meteredTime payAmount percentage product purpose recipient relativePosition",
  "relativeSpatialPosition relativeTemporalPosition relativeSize resolution spatial",
  "spatialCoordinates systemDevice timeInterval unitOfCount version virtualLocation",
  "eq gt gteq lt lteq neq isA hasPart isPartOf isAllOf isAnyOf isNoneOf",
  "or xone and andSequence policyUsage",
]
  .join(" ")
  .split(" ");

function odrlContextTerms(): ReadonlyMap<string, string> {
  const terms = new Map<string, string>(Object.entries(PREFIXES));
  for (const term of ODRL_TERMS) terms.set(term, ODRL_NS + term);
  terms.set("dataType", `${ODRL_NS}datatype`);
  terms.set("uid", "@id");
  terms.set("type", "@type");
  return terms;
}

/** Remote contexts known by URL (the https spelling is the same document). */
export const KNOWN_CONTEXTS: ReadonlyMap<string, ReadonlyMap<string, string>> = new Map([
  [ODRL_CONTEXT, odrlContextTerms()],
  [ODRL_CONTEXT.replace(/^http:/, "https:"), odrlContextTerms()],
]);
