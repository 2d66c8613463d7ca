/**
 * Every operation the gateway serves, as data: the routes of every surface
 * (token/app.ts with /health, exchange/app.ts, admin/*.ts, metrics/app.ts and
 * this module's own two routes), each with the zod schemas that validate its
 * requests and the problem codes it can answer with (codes of the table in
 * problems.ts; document.ts groups them by the table's status). document.ts
 * turns them into OpenAPI; test/openapi checks them against the app's
 * registered routes.
 */
import { AGREEMENT_RULE_CODES, EXCHANGE_DENIAL_CODES } from "../../policies/codes.ts";
import {
  EXAMPLE_AGREEMENT,
  EXAMPLE_DATASET,
  EXAMPLE_PARTNERS,
} from "../../policies/demo/ecosystem.ts";
import { Purpose } from "../../policies/model.ts";
import {
  AgreementListQuery,
  AuditQuery,
  DeliveryQuery,
  FlowMapQuery,
  PageQuery,
} from "../admin/schemas.ts";
import { DIMENSIONS, FlowsQuery, GRANULARITIES, WindowQuery } from "../metrics/flows.ts";
import { StatementQuery } from "../metrics/periods.ts";
import {
  type CodeOf,
  type ProblemCode,
  type ProblemStatus,
  type StatusOf,
  statusFor,
} from "../problems.ts";
import type { OAuthErrorCode } from "../token/oauth-error.ts";
import { inlineSchema, type JsonSchema, type Parameter, queryParameters, ref } from "./generate.ts";
import { GROUP_BY_PATTERN } from "./schemas.ts";
import { selfServiceOperations } from "./self-service.ts";
import { transferOperations } from "./transfers.ts";

export type Method = "get" | "post" | "put" | "patch" | "delete";

/** Who may call: decides the security requirement and the problems every call can meet. */
export type Guard =
  | "public"
  | "client"
  | "admin"
  | "metrics"
  | "metricsClose"
  | "partner"
  | "attestation"
  | "catalog"
  | "exchange";

/** A problem code at its usual status, or at another of its own (see `at`). */
export type ProblemRef = ProblemCode | ProblemAt;
export type ProblemAt = {
  readonly [C in ProblemCode]: { readonly code: C; readonly status: StatusOf<C> };
}[ProblemCode];

/** Codes answered at `status`, which must be one of each code's own statuses (checked here too). */
export const at = <S extends ProblemStatus>(
  status: S,
  ...codes: readonly CodeOf<S>[]
): ProblemAt[] =>
  codes.map(
    (code) => ({ code, status: statusFor(code, status as StatusOf<typeof code>) }) as ProblemAt,
  );

export interface MediaSpec {
  readonly schema: JsonSchema;
  readonly example?: unknown;
}

export interface HeaderSpec {
  readonly description: string;
  readonly schema: JsonSchema;
}

export interface SuccessSpec {
  readonly description: string;
  readonly content?: Readonly<Record<string, MediaSpec>>;
  readonly headers?: Readonly<Record<string, HeaderSpec>>;
}

export interface OperationSpec {
  readonly method: Method;
  readonly path: string;
  readonly tag: string;
  readonly operationId: string;
  readonly summary: string;
  readonly description?: string;
  readonly guard: Guard;
  /** Query and header parameters; path parameters are derived from the path. */
  readonly parameters?: readonly Parameter[];
  readonly body?: {
    readonly required: boolean;
    readonly description?: string;
    readonly content: Readonly<Record<string, MediaSpec>>;
  };
  readonly success: Readonly<Record<string, SuccessSpec>>;
  /**
   * The problem codes it can answer on top of those of the guard, each at its
   * usual status in the table (problems.ts) or, with `at`, at another of its own.
   */
  readonly problems?: readonly ProblemRef[];
  /** RFC 6749 errors, each at its status in OAUTH_ERRORS (the token endpoint only). */
  readonly oauthErrors?: readonly OAuthErrorCode[];
}

const JSON_TYPE = "application/json";
const json = (schema: JsonSchema, example?: unknown): Record<string, MediaSpec> => ({
  [JSON_TYPE]: example === undefined ? { schema } : { schema, example },
});
const jsonBody = (name: string, example?: unknown) => ({
  required: true,
  content: json(ref(name), example),
});
const ok = (description: string, name: string): Record<string, SuccessSpec> => ({
  "200": { description, content: json(ref(name)) },
});
const created = (description: string, name: string): Record<string, SuccessSpec> => ({
  "201": { description, content: json(ref(name)) },
});

// ---------------------------------------------------------------- examples (from the contract)

export const EXAMPLES = {
  partner: { ...EXAMPLE_PARTNERS.fleetco, baseUrl: "https://fleetco.example/api" },
  dataset: EXAMPLE_DATASET,
  agreement: EXAMPLE_AGREEMENT,
  agreementPatch: { price: { currency: "EUR", perRecord: 2500 }, reason: "price review 2026" },
  partnerPatch: { baseUrl: "https://api.fleetco.example/v2", reason: "backend moved" },
  reason: { reason: "contract breach under review" },
  phaseOut: { at: "2026-06-30T00:00:00Z", reason: "leaves the ecosystem" },
  attestation: {
    agreement: "agr-1",
    deletedAt: "2026-07-01T12:00:00Z",
    statement: "All records received under agr-1 were deleted from every system.",
  },
  client: { id: "finance-eu", role: "metrics:read" },
  decision: {
    partner: "insureco",
    agreement: "agr-1",
    action: "read",
    purpose: "insurance-pricing",
  },
  keys: {
    keys: [
      {
        kty: "EC",
        crv: "P-256",
        kid: "fleetco-2026",
        alg: "ES256",
        use: "sig",
        x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
      },
    ],
  },
  tradeRules: { embargoedJurisdictions: ["KP"], deniedParties: ["shadyco"] },
  token: { grant_type: "client_credentials", scope: "agreement:agr-1 agreement:agr-2" },
} as const;

// ---------------------------------------------------------------- shared parameters

const windowParameters = (): Parameter[] =>
  queryParameters([WindowQuery], {
    from: "Start of the window (inclusive), ISO 8601. Default: the first day of the month of to, 00:00 UTC.",
    to: "End of the window (exclusive), ISO 8601. Default: now. Must be after from; at most 400 days after it.",
  });

const flowsParameters = (): Parameter[] => [
  ...windowParameters(),
  ...queryParameters(
    [FlowsQuery],
    {
      granularity: `One row per ${GRANULARITIES.join(", ")} (total: one period for the window).`,
      groupBy: `Comma-separated dimensions among ${DIMENSIONS.join(", ")}; dimensions not named are left out of the rows. Default: all.`,
    },
    { groupBy: { pattern: GROUP_BY_PATTERN } },
  ),
];

const exchangeHeaders = (): Parameter[] => [
  {
    name: "Data-Purpose",
    in: "header",
    required: false,
    description:
      "The purpose of this exchange. Required where the agreement names purposes (missing or not listed: 403 purpose_not_permitted).",
    schema: inlineSchema(Purpose, "input"),
  },
  {
    name: "Idempotency-Key",
    in: "header",
    required: false,
    description:
      "A retry with the same key on the same agreement and request within 24 hours is served again but metered once: a read's retry answers the body released the first time, byte for byte, without calling the provider (after a fresh status check); if the agreement, the dataset or the trade rules changed since, it is decided, fetched, cut and metered anew. A deliver's key is matched against the dataset's core markers (422 leak_blocked); the consumer's backend gets a key derived by the gateway.",
    schema: { type: "string", pattern: "^[\\x21-\\x7e]{1,255}$" },
  },
];

/** RFC 9449: the proof that binds a token (token endpoint) or goes with a bound one (every call). */
const dpopProofHeader = (what: string): Parameter => ({
  name: "DPoP",
  in: "header",
  required: false,
  description: what,
  schema: { type: "string", pattern: "^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$" },
});

const forwardedQuery: Parameter = {
  name: "query",
  in: "query",
  required: false,
  description:
    "Any query (at most 4096 characters of RFC 3986 query characters) is forwarded to the provider as it is.",
  schema: { type: "object", additionalProperties: { type: "string" } },
  style: "form",
  explode: true,
};

const contentEncoding: Parameter = {
  name: "Content-Encoding",
  in: "header",
  required: false,
  description: "identity, gzip, x-gzip, deflate or br; anything else: 415",
  schema: { type: "string", enum: ["identity", "gzip", "x-gzip", "deflate", "br"] },
};

// ---------------------------------------------------------------- exchange

const RECORDS_HEADER: Record<string, HeaderSpec> = {
  "X-Records": {
    description: "the number of records released",
    schema: { type: "integer", minimum: 0 },
  },
  "Cache-Control": { description: "no-store", schema: { type: "string" } },
};

const records = (what: string): Record<string, MediaSpec> => ({
  [JSON_TYPE]: {
    schema: {
      description: `${what}, cut to the agreement's fields (JSON and +json types)`,
    },
  },
  "application/x-ndjson": { schema: { type: "string", description: "one record per line" } },
  "text/csv": {
    schema: { type: "string", description: "RFC 4180, header naming fields by dot path" },
  },
});

/** Every refusal of the policy (each at its status in the table), then the exchange's own. */
const exchangeProblems = (action: "read" | "deliver"): ProblemRef[] => [
  "invalid_request",
  "invalid_path",
  "invalid_token",
  ...EXCHANGE_DENIAL_CODES,
  "payload_too_large",
  "quota_exceeded",
  ...(action === "deliver" ? (["unsupported_media_type"] as const) : []),
  ...at(action === "read" ? 502 : 422, "leak_blocked"),
  "uninspectable_content",
  "upstream_error",
  "metering_unavailable",
  "store_unavailable",
  "upstream_timeout",
];

function exchangeOps(path: string, suffix: string): OperationSpec[] {
  const sub = suffix === "" ? "" : " (a subpath under the dataset's path)";
  return [
    {
      method: "get",
      path,
      tag: "Exchange",
      operationId: `read${suffix}`,
      summary: `Read: the consumer pulls from the provider${sub}`,
      description:
        "Forwarded as GET provider.baseUrl + dataset.path + subpath + query with the gateway's own JWT (never the caller's). " +
        "The answer is cut to the agreement's fields; core fields and values matching a core marker never leave.",
      guard: "exchange",
      parameters: [...exchangeHeaders(), forwardedQuery],
      success: {
        "200": {
          description: "The provider's answer, cut to the agreement",
          content: records("The provider's records"),
          headers: RECORDS_HEADER,
        },
      },
      problems: exchangeProblems("read"),
    },
    {
      method: "post",
      path,
      tag: "Exchange",
      operationId: `deliver${suffix}`,
      summary: `Deliver: the provider pushes to the consumer${sub}`,
      description:
        "Forwarded as POST consumer.baseUrl + dataset.path + subpath, cut to the agreement's fields. " +
        "A body the gateway cannot inspect is refused, never passed on.",
      guard: "exchange",
      parameters: [...exchangeHeaders(), contentEncoding],
      body: {
        required: true,
        content: {
          [JSON_TYPE]: { schema: { description: "records as JSON (also +json types)" } },
          "application/x-ndjson": { schema: { type: "string" } },
          "text/csv": { schema: { type: "string" } },
        },
      },
      success: {
        "200": {
          description: "The consumer's backend accepted the records",
          content: json(ref("DeliverResult")),
          headers: RECORDS_HEADER,
        },
      },
      problems: exchangeProblems("deliver"),
    },
    ...(["put", "patch", "delete"] as const).map(
      (method): OperationSpec => ({
        method,
        path,
        tag: "Exchange",
        operationId: `${method}${suffix === "" ? "Exchange" : suffix}NotAllowed`,
        summary:
          "Not an exchange: answers 405 before anything else, token or not (exchanges are GET or POST; HEAD and other methods too)",
        guard: "public",
        success: {},
        problems: ["invalid_path", "method_not_allowed"],
      }),
    ),
  ];
}

// ---------------------------------------------------------------- admin helpers

const partnerTransition = (
  name: "suspend" | "resume" | "revoke" | "reinstate",
  summary: string,
): OperationSpec => ({
  method: "post",
  path: `/admin/partners/{id}/${name}`,
  tag: "Admin: partners",
  operationId: `${name}Partner`,
  summary,
  description:
    "Does not change the status of the partner's agreements: every exchange checks both parties and the agreement.",
  guard: "admin",
  body: jsonBody("ReasonBody", EXAMPLES.reason),
  success: ok("The partner", "Partner"),
  problems: ["partner_not_found", "conflict"],
});

const agreementTransition = (
  name: "suspend" | "resume" | "terminate",
  summary: string,
): OperationSpec => ({
  method: "post",
  path: `/admin/agreements/{id}/${name}`,
  tag: "Admin: agreements",
  operationId: `${name}Agreement`,
  summary,
  guard: "admin",
  body: jsonBody("ReasonBody", EXAMPLES.reason),
  success: ok("The agreement", "Agreement"),
  problems: ["agreement_not_found", "conflict"],
});

const odrlBody: MediaSpec = {
  schema: {
    type: "object",
    description:
      "An ODRL 2.2 Agreement (JSON-LD). Contexts are never fetched; the ODRL 2.2 context is known by its URL. " +
      "Terms the gateway cannot enforce: 422 unsupported_odrl_term.",
  },
};

// ---------------------------------------------------------------- the operations

/** Every operation; built on demand (converting schemas is work no cold start should do). */
export const operationSpecs = (): OperationSpec[] => [
  // ------------------------------------------------------------ token
  {
    method: "post",
    path: "/oauth/token",
    tag: "Token",
    operationId: "issueToken",
    summary: "Issue an access token (OAuth 2.0 client credentials)",
    description:
      "Authenticate with HTTP Basic (id and secret form-urlencoded inside it, RFC 6749 §2.3.1) or with a signed client assertion (RFC 7523) in the form. " +
      "The scope decides the role: agreement:<id> (partners, for active agreements they are party to), catalog (any active partner: self-service), admin, metrics:read, attestation. " +
      "With a DPoP proof (RFC 9449: typ dpop+jwt, ES256, ES384, EdDSA (or Ed25519), PS256 or RS256, the public jwk, htm POST, htu this URL, iat within 60 s, a fresh jti) " +
      "the token is bound to the proof's key (cnf.jkt) and token_type is DPoP; a partner with requireDpop gets no token without one. " +
      "Where the deployment uses DPoP nonces, a proof without the nonce is answered 400 use_dpop_nonce with the nonce in DPoP-Nonce. " +
      "On the mTLS domain the token is bound to the client certificate (RFC 8705, cnf.x5t#S256).",
    guard: "client",
    parameters: [
      dpopProofHeader(
        "A DPoP proof for this request (RFC 9449 §4): the token issued is bound to its key.",
      ),
    ],
    body: {
      required: true,
      content: {
        "application/x-www-form-urlencoded": { schema: ref("TokenForm"), example: EXAMPLES.token },
      },
    },
    success: {
      "200": {
        description: "A token",
        content: json(ref("TokenResponse")),
        headers: {
          "Cache-Control": { description: "no-store", schema: { type: "string" } },
          "DPoP-Nonce": {
            description:
              "the nonce to put in the next DPoP proofs (when the deployment uses nonces)",
            schema: { type: "string" },
          },
        },
      },
    },
    oauthErrors: [
      "invalid_request",
      "invalid_scope",
      "unsupported_grant_type",
      "invalid_dpop_proof",
      "use_dpop_nonce",
      "invalid_client",
      "temporarily_unavailable",
    ],
  },
  {
    method: "get",
    path: "/.well-known/jwks.json",
    tag: "Token",
    operationId: "getJwks",
    summary: "The gateway's public signing keys",
    description: "During a key rotation the current and the previous key; tokens carry kid.",
    guard: "public",
    success: ok("The JWKS", "Jwks"),
  },
  {
    method: "get",
    path: "/.well-known/oauth-authorization-server",
    tag: "Token",
    operationId: "getAuthorizationServerMetadata",
    summary: "OAuth 2.0 authorization server metadata (RFC 8414)",
    guard: "public",
    success: ok("The metadata", "AuthorizationServerMetadata"),
  },
  {
    method: "get",
    path: "/health",
    tag: "Meta",
    operationId: "health",
    summary: "Ready to serve: store up, bootstrap clients in place",
    guard: "public",
    success: ok("Ready", "Health"),
    problems: ["store_unavailable"],
  },
  {
    method: "get",
    path: "/openapi.json",
    tag: "Meta",
    operationId: "getOpenApi",
    summary: "This document",
    guard: "public",
    success: {
      "200": {
        description: "The OpenAPI 3.1 document of every route",
        content: json({ type: "object", description: "an OpenAPI 3.1 document" }),
      },
    },
  },
  {
    method: "get",
    path: "/docs",
    tag: "Meta",
    operationId: "getDocs",
    summary: "This document as a web page",
    guard: "public",
    success: {
      "200": {
        description: "A self-contained HTML page (no scripts, no external resources)",
        content: { "text/html": { schema: { type: "string" } } },
      },
    },
  },

  // ------------------------------------------------------------ exchange
  ...exchangeOps("/v1/exchange/{agreementId}", ""),
  ...exchangeOps("/v1/exchange/{agreementId}/{subpath}", "Subpath"),

  // ------------------------------------------------------------ partners' own calls
  {
    method: "get",
    path: "/v1/agreements",
    tag: "Partner self-service",
    operationId: "listOwnAgreements",
    summary: "The agreements the caller is party to, with status and quota used",
    guard: "partner",
    success: ok("The agreements", "PartnerAgreementList"),
    problems: ["partner_revoked", "partner_suspended", "partner_offboarded"],
  },
  {
    method: "get",
    path: "/v1/usage",
    tag: "Partner self-service",
    operationId: "getOwnUsage",
    summary: "The caller's own flows: the numbers finance sees",
    guard: "partner",
    parameters: flowsParameters(),
    success: ok("The caller's flows", "FlowsReport"),
    problems: ["partner_revoked", "partner_suspended", "partner_offboarded"],
  },
  {
    method: "post",
    path: "/v1/attestations",
    tag: "Partner self-service",
    operationId: "postAttestation",
    summary: "A phased-out partner attests that it deleted what it received",
    guard: "attestation",
    body: jsonBody("AttestationInput", EXAMPLES.attestation),
    success: created("The attestation as recorded", "Attestation"),
    problems: ["agreement_not_found", "conflict", "payload_too_large"],
  },

  // ------------------------------------------------------------ admin: partners
  {
    method: "post",
    path: "/admin/partners",
    tag: "Admin: partners",
    operationId: "createPartner",
    summary: "Register a partner and its OAuth client",
    description: "The client secret is shown once. Deployed, baseUrl must be https and public.",
    guard: "admin",
    body: jsonBody("PartnerInput", EXAMPLES.partner),
    success: created("The partner and its client credentials", "PartnerCreated"),
    problems: ["conflict", "backend_not_allowed"],
  },
  {
    method: "get",
    path: "/admin/partners",
    tag: "Admin: partners",
    operationId: "listPartners",
    summary: "List partners",
    guard: "admin",
    parameters: queryParameters([PageQuery]),
    success: ok("A page of partners", "PartnerList"),
  },
  {
    method: "get",
    path: "/admin/partners/{id}",
    tag: "Admin: partners",
    operationId: "getPartner",
    summary: "A partner, with its status right now",
    guard: "admin",
    success: ok("The partner", "Partner"),
    problems: ["partner_not_found"],
  },
  {
    method: "patch",
    path: "/admin/partners/{id}",
    tag: "Admin: partners",
    operationId: "updatePartner",
    summary: "Change a partner's name, jurisdiction, backend or requireDpop",
    description:
      "requireDpop: true: the partner gets only DPoP-bound tokens; its token requests without a DPoP proof answer 400 invalid_dpop_proof. " +
      "Tokens issued before the change stay valid until they expire.",
    guard: "admin",
    body: jsonBody("PartnerPatch", EXAMPLES.partnerPatch),
    success: ok("The partner", "Partner"),
    problems: ["partner_not_found", "conflict", "backend_not_allowed"],
  },
  partnerTransition("suspend", "Suspend a partner"),
  partnerTransition("resume", "Resume a suspended partner"),
  partnerTransition("revoke", "Revoke a partner"),
  partnerTransition("reinstate", "Reinstate a revoked partner"),
  {
    method: "post",
    path: "/admin/partners/{id}/phase-out",
    tag: "Admin: partners",
    operationId: "phaseOutPartner",
    summary: "Phase a partner out at a given time",
    description:
      "From `at` on its agreements are ended and its status is offboarded: it can still get the attestation scope and post attestations, nothing else.",
    guard: "admin",
    body: jsonBody("PhaseOutBody", EXAMPLES.phaseOut),
    success: ok("The partner", "Partner"),
    problems: ["partner_not_found", "conflict"],
  },
  {
    method: "post",
    path: "/admin/partners/{id}/credentials",
    tag: "Admin: partners",
    operationId: "rotatePartnerCredentials",
    summary: "Issue a new client secret; the old one stops working at once",
    guard: "admin",
    success: ok("The new credentials", "ClientCredentials"),
    problems: ["partner_not_found", "client_not_found", "conflict"],
  },
  {
    method: "put",
    path: "/admin/partners/{id}/keys",
    tag: "Admin: partners",
    operationId: "putPartnerKeys",
    summary: "Register the partner's public keys for client assertions (RFC 7523)",
    guard: "admin",
    body: jsonBody("KeysBody", EXAMPLES.keys),
    success: ok("The registered keys", "PartnerKeys"),
    problems: ["partner_not_found", "conflict"],
  },
  {
    method: "get",
    path: "/admin/partners/{id}/exit",
    tag: "Admin: partners",
    operationId: "getPartnerExit",
    summary: "What a partner received, its retention, and the attestations outstanding",
    guard: "admin",
    success: ok("The exit report", "ExitReport"),
    problems: ["partner_not_found"],
  },
  {
    method: "post",
    path: "/admin/partners/{id}/attestations",
    tag: "Admin: partners",
    operationId: "recordAttestation",
    summary: "Record a deletion attestation for a partner that cannot post it (revoked)",
    guard: "admin",
    body: jsonBody("AttestationInput", EXAMPLES.attestation),
    success: created("The attestation as recorded", "Attestation"),
    problems: ["partner_not_found", "agreement_not_found", "conflict"],
  },

  // ------------------------------------------------------------ admin: datasets
  {
    method: "post",
    path: "/admin/datasets",
    tag: "Admin: datasets",
    operationId: "createDataset",
    summary: "Register a dataset with its field classification and core markers",
    description: "A field that is not listed counts as core.",
    guard: "admin",
    body: jsonBody("DatasetInput", EXAMPLES.dataset),
    success: created("The dataset", "Dataset"),
    problems: ["conflict", "unsafe_pattern", ...at(422, "partner_not_found")],
  },
  {
    method: "get",
    path: "/admin/datasets",
    tag: "Admin: datasets",
    operationId: "listDatasets",
    summary: "List datasets",
    guard: "admin",
    parameters: queryParameters([PageQuery]),
    success: ok("A page of datasets", "DatasetList"),
  },
  {
    method: "get",
    path: "/admin/datasets/{id}",
    tag: "Admin: datasets",
    operationId: "getDataset",
    summary: "A dataset",
    guard: "admin",
    success: ok("The dataset", "Dataset"),
    problems: ["dataset_not_found"],
  },
  {
    method: "put",
    path: "/admin/datasets/{id}",
    tag: "Admin: datasets",
    operationId: "replaceDataset",
    summary: "Replace a dataset's definition (a new version; the owner cannot change)",
    guard: "admin",
    body: jsonBody("DatasetInput", EXAMPLES.dataset),
    success: ok("The dataset", "Dataset"),
    problems: [
      "dataset_not_found",
      "conflict",
      "provider_not_owner",
      "unsafe_pattern",
      ...at(422, "partner_not_found"),
    ],
  },

  // ------------------------------------------------------------ admin: agreements
  {
    method: "post",
    path: "/admin/agreements",
    tag: "Admin: agreements",
    operationId: "createAgreement",
    summary: "Make an agreement (JSON, or ODRL with Content-Type application/ld+json)",
    guard: "admin",
    body: {
      required: true,
      content: {
        [JSON_TYPE]: { schema: ref("AgreementInput"), example: EXAMPLES.agreement },
        "application/ld+json": odrlBody,
      },
    },
    success: created("The agreement, active, version 1", "Agreement"),
    problems: ["conflict", ...at(422, ...AGREEMENT_RULE_CODES)],
  },
  {
    method: "get",
    path: "/admin/agreements",
    tag: "Admin: agreements",
    operationId: "listAgreements",
    summary: "List agreements, optionally those of one partner",
    guard: "admin",
    parameters: queryParameters([AgreementListQuery], {
      partner: "Only agreements this partner is provider or consumer of.",
    }),
    success: ok("A page of agreements", "AgreementList"),
  },
  {
    method: "get",
    path: "/admin/agreements/{id}",
    tag: "Admin: agreements",
    operationId: "getAgreement",
    summary: "An agreement, as JSON or as ODRL",
    description: "With Accept: application/ld+json the agreement as an ODRL 2.2 policy.",
    guard: "admin",
    success: {
      "200": {
        description: "The agreement",
        content: {
          [JSON_TYPE]: { schema: ref("Agreement") },
          "application/ld+json": {
            schema: { type: "object", description: "the agreement as an ODRL 2.2 policy" },
          },
        },
      },
    },
    problems: ["agreement_not_found"],
  },
  {
    method: "get",
    path: "/admin/agreements/{id}/versions",
    tag: "Admin: agreements",
    operationId: "listAgreementVersions",
    summary: "Every version of an agreement, newest first",
    guard: "admin",
    success: ok("The versions", "AgreementList"),
    problems: ["agreement_not_found"],
  },
  {
    method: "patch",
    path: "/admin/agreements/{id}",
    tag: "Admin: agreements",
    operationId: "amendAgreement",
    summary: "Amend an agreement's terms (a new version)",
    guard: "admin",
    body: jsonBody("AgreementPatch", EXAMPLES.agreementPatch),
    success: ok("The amended agreement", "Agreement"),
    problems: [
      "agreement_not_found",
      "conflict",
      ...at(422, ...AGREEMENT_RULE_CODES.filter((c) => c !== "unsupported_odrl_term")),
    ],
  },
  agreementTransition("suspend", "Suspend an agreement"),
  agreementTransition("resume", "Resume a suspended agreement"),
  agreementTransition("terminate", "Terminate an agreement"),

  // ------------------------------------------------------------ admin: the rest
  {
    method: "post",
    path: "/admin/clients",
    tag: "Admin: clients",
    operationId: "createClient",
    summary: "A named operator or finance client, so the audit trail names who acted",
    guard: "admin",
    body: jsonBody("ClientInput", EXAMPLES.client),
    success: created("The client's credentials (the secret is shown once)", "ClientCreated"),
    problems: ["conflict"],
  },
  {
    method: "post",
    path: "/admin/clients/{id}/credentials",
    tag: "Admin: clients",
    operationId: "rotateClientCredentials",
    summary: "Issue a new client secret; the old one stops working at once",
    guard: "admin",
    success: ok("The new credentials", "ClientCredentials"),
    problems: ["client_not_found", "conflict"],
  },
  {
    method: "get",
    path: "/admin/audit",
    tag: "Admin: audit",
    operationId: "listAudit",
    summary: "The audit trail, newest first",
    guard: "admin",
    parameters: queryParameters([AuditQuery], {
      partner: "Only entries about this partner.",
      action: "Only entries of this action, e.g. partner.revoke.",
    }),
    success: ok("A page of audit entries", "AuditList"),
  },
  {
    method: "get",
    path: "/admin/audit/verify",
    tag: "Admin: audit",
    operationId: "verifyAudit",
    summary: "Verify the audit trail's hash chain",
    guard: "admin",
    success: ok("The verification", "AuditVerification"),
  },
  {
    method: "get",
    path: "/admin/trade-rules",
    tag: "Admin: trade rules",
    operationId: "getTradeRules",
    summary: "The ecosystem's embargoed jurisdictions and denied parties",
    guard: "admin",
    success: ok("The trade rules", "TradeRules"),
  },
  {
    method: "put",
    path: "/admin/trade-rules",
    tag: "Admin: trade rules",
    operationId: "putTradeRules",
    summary: "Replace the trade rules (checked on every exchange)",
    guard: "admin",
    body: jsonBody("TradeRulesInput", EXAMPLES.tradeRules),
    success: ok("The trade rules", "TradeRules"),
    problems: ["conflict"],
  },
  {
    method: "post",
    path: "/admin/decisions",
    tag: "Admin: decisions",
    operationId: "explainDecision",
    summary: "What the policy says about a hypothetical exchange, and why",
    guard: "admin",
    body: jsonBody("DecisionInput", EXAMPLES.decision),
    success: ok("The decision", "DecisionResult"),
  },
  {
    method: "get",
    path: "/admin/flows",
    tag: "Admin: flows",
    operationId: "getFlowMap",
    summary: "The ecosystem as a graph: partners as nodes, agreements as edges",
    guard: "admin",
    parameters: queryParameters([FlowMapQuery]),
    success: {
      "200": {
        description: "The flow map",
        content: {
          [JSON_TYPE]: { schema: ref("FlowMap") },
          "text/plain": {
            schema: { type: "string", description: "with format=mermaid: a Mermaid flowchart" },
          },
        },
      },
    },
  },
  {
    method: "get",
    path: "/admin/deliveries",
    tag: "Admin: deliveries",
    operationId: "listDeliveries",
    summary: "Event deliveries to counterparties, by state",
    guard: "admin",
    parameters: queryParameters([DeliveryQuery]),
    success: ok("A page of deliveries", "DeliveryList"),
  },

  // ------------------------------------------------------------ metrics
  {
    method: "get",
    path: "/metrics/flows",
    tag: "Metrics",
    operationId: "getFlows",
    summary: "Usage and value per flow, as JSON or CSV",
    description:
      "One row per currency. With Accept: text/csv the same rows as RFC 4180 CSV, value as the two columns currency and amount.",
    guard: "metrics",
    parameters: flowsParameters(),
    success: {
      "200": {
        description: "The flows",
        content: {
          [JSON_TYPE]: { schema: ref("FlowsReport") },
          "text/csv": {
            schema: {
              type: "string",
              description: `header: ${DIMENSIONS.join(",")},period,requests,denied,blocked,failed,records,bytes,currency,amount (dimensions as grouped)`,
            },
          },
        },
      },
    },
  },
  {
    method: "get",
    path: "/metrics/attribution",
    tag: "Metrics",
    operationId: "getAttribution",
    summary: "Value earned and paid per partner",
    description:
      "Each flow's value is paid by its consumer and earned along its valueShares; earned and paid sum to the same micro-unit.",
    guard: "metrics",
    parameters: windowParameters(),
    success: ok("Earned and paid per partner", "Attribution"),
  },
  {
    method: "get",
    path: "/metrics/reconcile",
    tag: "Metrics",
    operationId: "reconcile",
    summary:
      "The rollups (hourly, and the days and months of the period index) proved against the metering events",
    guard: "metrics",
    parameters: windowParameters(),
    success: ok("The reconciliation", "Reconciliation"),
  },
  {
    method: "post",
    path: "/metrics/periods/{period}/close",
    tag: "Metrics",
    operationId: "closePeriod",
    summary: "Close a UTC month (yyyy-mm): its statement is kept and never changes",
    description:
      "A month can be closed from 30 minutes after its end. Anything that lands for it later (a reversal, a late write) is booked as an adjustment in the next open month. Audited with the statement's SHA-256.",
    guard: "metricsClose",
    success: ok("The closed period", "PeriodClosed"),
    problems: ["period_closed", "period_open"],
  },
  {
    method: "get",
    path: "/metrics/statements",
    tag: "Metrics",
    operationId: "getStatement",
    summary: "A month's statement per partner and currency, as JSON or CSV",
    description:
      "Earned and paid with lines per agreement (usage or adjustment), split like /metrics/attribution. A closed month's statement is the same bytes every time (ETag: its SHA-256, the close's).",
    guard: "metrics",
    parameters: queryParameters([StatementQuery]),
    success: {
      "200": {
        description: "The statement",
        content: {
          [JSON_TYPE]: { schema: ref("Statement") },
          "text/csv": {
            schema: {
              type: "string",
              description:
                "header: period,partner,currency,kind,agreement,dataset,counterparty,requests,records,earned,paid",
            },
          },
        },
      },
    },
  },

  // ------------------------------------------------------------ self-service (./self-service.ts)
  ...selfServiceOperations(),
  ...transferOperations(),
];
