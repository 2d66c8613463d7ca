/**
 * The OpenAPI 3.1 document of the whole gateway, built once (lazily) from the
 * operation table and the zod schemas, then handed out with `servers` set to
 * the origin the caller reached us at.
 */
import * as z from "zod";
import {
  Agreement,
  AgreementInput,
  AgreementPatch,
  AttestationInput,
  Currency,
  Dataset,
  DatasetInput,
  Id,
  Jurisdiction,
  Partner,
  PartnerInput,
  PartnerPatch,
  TradeRules,
  TradeRulesInput,
} from "../../policies/model.ts";
import {
  ClientInput,
  DecisionInput,
  KeysBody,
  PhaseOutBody,
  ReasonBody,
} from "../admin/schemas.ts";
import {
  PROBLEMS,
  type ProblemCode,
  type ProblemStatus,
  REASON_PHRASES,
  statusFor,
} from "../problems.ts";
import { OAUTH_ERRORS, type OAuthErrorCode } from "../token/oauth-error.ts";
import {
  componentSchemas,
  inlineSchema,
  type JsonSchema,
  type Parameter,
  ref,
} from "./generate.ts";
import { type Guard, type OperationSpec, operationSpecs, type ProblemRef } from "./operations.ts";
import {
  Attestation,
  Attribution,
  AuditEntry,
  AuditVerification,
  AuthorizationServerMetadata,
  ClientCreated,
  ClientCredentials,
  DecisionResult,
  DeliverResult,
  Delivery,
  ExitReport,
  FlowMap,
  FlowRow,
  FlowsReport,
  GatewayEvent,
  Health,
  Jwk,
  Jwks,
  OAuthErrorBody,
  PartnerKeys,
  PeriodClosed,
  Problem,
  QuotaUsed,
  Reconciliation,
  Statement,
  TokenForm,
  TokenResponse,
} from "./schemas.ts";
import {
  SELF_SERVICE_REQUEST_SCHEMAS,
  SELF_SERVICE_RESPONSE_SCHEMAS,
  SELF_SERVICE_SCOPE_NOTE,
  SELF_SERVICE_TAGS,
} from "./self-service.ts";
import { TRANSFER_REQUEST_SCHEMAS, TRANSFER_RESPONSE_SCHEMAS, TRANSFER_TAGS } from "./transfers.ts";

export type OpenApiDocument = { readonly [key: string]: unknown };

/** Request bodies: converted on their input side, straight from the validating schemas. */
const REQUEST_SCHEMAS: Readonly<Record<string, z.ZodType>> = {
  PartnerInput,
  PartnerPatch,
  DatasetInput,
  AgreementInput,
  AgreementPatch,
  TradeRulesInput,
  AttestationInput,
  ReasonBody,
  ClientInput,
  DecisionInput,
  KeysBody,
  PhaseOutBody,
  TokenForm,
  Jurisdiction,
  Currency,
  ...SELF_SERVICE_REQUEST_SCHEMAS,
  ...TRANSFER_REQUEST_SCHEMAS,
};

const listOf = (item: z.ZodType) =>
  z.object({
    items: z.array(item),
    next: z.string().nullable().describe("cursor of the next page, or null on the last one"),
  });

/** Answers: converted on their output side. */
const RESPONSE_SCHEMAS: Readonly<Record<string, z.ZodType>> = {
  Problem,
  OAuthError: OAuthErrorBody,
  TokenResponse,
  Jwk,
  Jwks,
  AuthorizationServerMetadata,
  Health,
  Partner,
  PartnerList: listOf(Partner),
  PartnerCreated: z.object({ partner: Partner, ...ClientCredentials.shape }),
  ClientCredentials,
  ClientCreated,
  PartnerKeys,
  Dataset,
  DatasetList: listOf(Dataset),
  Agreement,
  AgreementList: listOf(Agreement),
  QuotaUsed,
  PartnerAgreement: Agreement.extend({ quotaUsed: QuotaUsed }),
  PartnerAgreementList: listOf(Agreement.extend({ quotaUsed: QuotaUsed })),
  TradeRules,
  AuditEntry,
  AuditList: listOf(AuditEntry),
  AuditVerification,
  GatewayEvent,
  Delivery,
  DeliveryList: listOf(Delivery),
  DecisionResult,
  FlowMap,
  Attestation,
  ExitReport,
  FlowRow,
  FlowsReport,
  Attribution,
  Reconciliation,
  PeriodClosed,
  Statement,
  DeliverResult,
  Jurisdiction,
  Currency,
  ...SELF_SERVICE_RESPONSE_SCHEMAS,
  ...TRANSFER_RESPONSE_SCHEMAS,
};

const TAGS: readonly { name: string; description: string }[] = [
  { name: "Token", description: "OAuth 2.0 client credentials, the gateway's keys and metadata." },
  {
    name: "Exchange",
    description:
      "Partners exchanging data under an agreement: the consumer reads, the provider delivers. Token scope agreement:<id>.",
  },
  {
    name: "Partner self-service",
    description: "A partner's own agreements, usage and deletion attestations.",
  },
  { name: "Admin: partners", description: "Operators: partners and their lifecycle." },
  { name: "Admin: datasets", description: "Operators: datasets and their field classification." },
  { name: "Admin: agreements", description: "Operators: agreements, amendments, lifecycle." },
  { name: "Admin: clients", description: "Operators: named operator and finance clients." },
  { name: "Admin: audit", description: "Operators: the audit trail and its hash chain." },
  { name: "Admin: trade rules", description: "Operators: embargoes and denied parties." },
  { name: "Admin: decisions", description: "Operators: explain a hypothetical exchange." },
  { name: "Admin: flows", description: "Operators: the ecosystem as a graph." },
  { name: "Admin: deliveries", description: "Operators: event deliveries to counterparties." },
  { name: "Metrics", description: "Finance: usage, value and its attribution." },
  ...SELF_SERVICE_TAGS,
  ...TRANSFER_TAGS,
  { name: "Meta", description: "Health and this documentation." },
];

const AUTHENTICATED: readonly ProblemRef[] = [
  "invalid_request",
  "invalid_path",
  "invalid_token",
  "scope_missing",
  "store_unavailable",
];

/** The problems every call behind a guard can meet (the app-wide path check included). */
const GUARD_PROBLEMS: Readonly<Record<Guard, readonly ProblemRef[]>> = {
  public: ["invalid_path"],
  client: ["invalid_path"],
  // People's tokens are checked against their OpenID provider's keys.
  admin: [...AUTHENTICATED, "identity_provider_unavailable", "payload_too_large"],
  metrics: [...AUTHENTICATED, "identity_provider_unavailable"],
  metricsClose: [...AUTHENTICATED, "identity_provider_unavailable"],
  partner: AUTHENTICATED,
  attestation: AUTHENTICATED,
  catalog: [...AUTHENTICATED, "payload_too_large"],
  exchange: [],
};

export const OAUTH_SCOPES: Readonly<Record<string, string>> = {
  admin: "operators: every /admin call",
  "metrics:read": "finance: /metrics",
  "metrics:close": "finance: POST /metrics/periods/{yyyy-mm}/close",
  attestation: "a phased-out partner: POST /v1/attestations only",
  catalog: SELF_SERVICE_SCOPE_NOTE,
  "agreement:{id}":
    "a party of agreement {id} (replace {id}): its exchanges and transfers, and /v1/agreements and /v1/usage",
};

const SECURITY: Readonly<Record<Guard, readonly Record<string, string[]>[]>> = {
  public: [],
  client: [{ clientBasic: [] }, {}],
  admin: [{ oauth2: ["admin"] }],
  metrics: [{ oauth2: ["metrics:read"] }],
  metricsClose: [{ oauth2: ["metrics:close"] }],
  partner: [{ oauth2: ["agreement:{id}"] }],
  attestation: [{ oauth2: ["attestation"] }],
  catalog: [{ oauth2: ["catalog"] }],
  exchange: [{ oauth2: ["agreement:{id}"] }],
};

const headerRef = (name: string) => ({ $ref: `#/components/headers/${name}` });

const HEADERS: Readonly<Record<string, JsonSchema>> = {
  XRequestId: {
    description:
      "The gateway's own id of the request (a caller's X-Request-Id is only logged as its correlation id, never used as the gateway's); backends and the audit trail see the same id.",
    schema: { type: "string" },
  },
  RetryAfter: { description: "Seconds to wait before retrying.", schema: { type: "integer" } },
  WwwAuthenticate: { description: "The authentication challenge.", schema: { type: "string" } },
  Allow: { description: "The methods the path allows.", schema: { type: "string" } },
};

const extraHeaders = (status: number): Record<string, unknown> => ({
  ...(status === 401 ? { "WWW-Authenticate": headerRef("WwwAuthenticate") } : {}),
  ...(status === 429 || status === 503 ? { "Retry-After": headerRef("RetryAfter") } : {}),
  ...(status === 405 ? { Allow: headerRef("Allow") } : {}),
});

const asTuple = (codes: readonly string[]) => codes as [string, ...string[]];

const problemLine = (code: ProblemCode) =>
  `- \`${code}\`: ${PROBLEMS[code].title} — ${PROBLEMS[code].about}`;
const oauthLine = (error: OAuthErrorCode) => `- \`${error}\`: ${OAUTH_ERRORS[error].about}`;

function problemMedia(status: number, codes: readonly string[]): JsonSchema {
  return {
    schema: {
      allOf: [
        ref("Problem"),
        inlineSchema(
          z.looseObject({ status: z.literal(status), code: z.enum(asTuple(codes)) }),
          "output",
        ),
      ],
    },
  };
}

function oauthMedia(codes: readonly string[]): JsonSchema {
  return {
    schema: {
      allOf: [
        ref("OAuthError"),
        inlineSchema(z.looseObject({ error: z.enum(asTuple(codes)) }), "output"),
      ],
    },
  };
}

/** Problem codes by the status they answer with, each once, in the order first named. */
function problemsByStatus(
  ...lists: readonly (readonly ProblemRef[])[]
): Map<ProblemStatus, ProblemCode[]> {
  const out = new Map<ProblemStatus, ProblemCode[]>();
  for (const ref of lists.flat()) {
    const [code, status] =
      typeof ref === "string" ? [ref, statusFor(ref)] : [ref.code, statusFor(ref.code, ref.status)];
    const codes = out.get(status) ?? [];
    if (!codes.includes(code)) codes.push(code);
    out.set(status, codes);
  }
  return out;
}

/** OAuth errors by their status. */
function oauthByStatus(errors: readonly OAuthErrorCode[]): Map<ProblemStatus, OAuthErrorCode[]> {
  const out = new Map<ProblemStatus, OAuthErrorCode[]>();
  for (const error of errors) {
    const status = OAUTH_ERRORS[error].status;
    out.set(status, [...(out.get(status) ?? []), error]);
  }
  return out;
}

function pathParameters(path: string): Parameter[] {
  return [...path.matchAll(/\{([^}]+)\}/g)].map(([, name = ""]) =>
    name === "subpath"
      ? {
          name,
          in: "path",
          required: true,
          description:
            "One or more path segments under the dataset's path, separated by plain `/` (an encoded %2F, a dot segment or a control character: 400 invalid_path).",
          schema: { type: "string" },
        }
      : {
          name,
          in: "path",
          required: true,
          schema: inlineSchema(Id, "input"),
        },
  );
}

/** Error answers shared by several operations live once under components.responses. */
class SharedResponses {
  private readonly uses = new Map<string, { response: unknown; count: number }>();

  note(name: string, response: unknown): string {
    const seen = this.uses.get(name);
    if (seen === undefined) this.uses.set(name, { response, count: 1 });
    else seen.count++;
    return name;
  }

  /** The operations' responses with every shared one replaced by a $ref. */
  resolve(
    responses: Record<string, unknown>,
    names: Record<string, string>,
  ): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [status, response] of Object.entries(responses)) {
      const name = names[status];
      const shared = name === undefined ? undefined : this.uses.get(name);
      out[status] =
        name !== undefined && shared !== undefined && shared.count > 1
          ? { $ref: `#/components/responses/${name}` }
          : response;
    }
    return out;
  }

  components(): Record<string, unknown> {
    return Object.fromEntries(
      [...this.uses].filter(([, u]) => u.count > 1).map(([name, u]) => [name, u.response]),
    );
  }
}

function responsesOf(
  op: OperationSpec,
  shared: SharedResponses,
): { responses: Record<string, unknown>; names: Record<string, string> } {
  const responses: Record<string, unknown> = {};
  const names: Record<string, string> = {};
  for (const [status, s] of Object.entries(op.success)) {
    responses[status] = {
      description: s.description,
      headers: { "X-Request-Id": headerRef("XRequestId"), ...s.headers },
      ...(s.content === undefined ? {} : { content: s.content }),
    };
  }
  const problems = problemsByStatus(GUARD_PROBLEMS[op.guard], op.problems ?? []);
  const oauth = oauthByStatus(op.oauthErrors ?? []);
  const statuses = [...new Set([...problems.keys(), ...oauth.keys()])].sort((a, b) => a - b);
  for (const status of statuses) {
    const p = problems.get(status) ?? [];
    const o = oauth.get(status) ?? [];
    const content: Record<string, unknown> = {};
    if (o.length > 0) content["application/json"] = oauthMedia(o);
    if (p.length > 0) content["application/problem+json"] = problemMedia(status, p);
    const response = {
      description: `${REASON_PHRASES[status]}:\n${[...o.map(oauthLine), ...p.map(problemLine)].join("\n")}`,
      headers: { "X-Request-Id": headerRef("XRequestId"), ...extraHeaders(status) },
      content,
    };
    // The name says everything the response depends on: its status and its codes.
    names[String(status)] = shared.note(
      [status, ...(o.length > 0 ? ["oauth", ...o] : []), ...p].join("-"),
      response,
    );
    responses[String(status)] = response;
  }
  return { responses, names };
}

function operationOf(
  op: OperationSpec,
  shared: SharedResponses,
): { operation: Record<string, unknown>; names: Record<string, string> } {
  const parameters = [...pathParameters(op.path), ...(op.parameters ?? [])];
  const { responses, names } = responsesOf(op, shared);
  const operation = {
    tags: [op.tag],
    operationId: op.operationId,
    summary: op.summary,
    ...(op.description === undefined ? {} : { description: op.description }),
    security: SECURITY[op.guard],
    ...(parameters.length === 0 ? {} : { parameters }),
    ...(op.body === undefined ? {} : { requestBody: op.body }),
    responses,
  };
  return { operation, names };
}

function mergeComponents(...groups: Record<string, JsonSchema>[]): Record<string, JsonSchema> {
  const out: Record<string, JsonSchema> = {};
  for (const group of groups) {
    for (const [name, schema] of Object.entries(group)) {
      const seen = out[name];
      if (seen !== undefined && JSON.stringify(seen) !== JSON.stringify(schema)) {
        throw new Error(`component ${name} differs between requests and responses`);
      }
      out[name] = schema;
    }
  }
  return out;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

export function buildDocument(): OpenApiDocument {
  const shared = new SharedResponses();
  const built = operationSpecs().map((op) => ({ op, ...operationOf(op, shared) }));
  const paths: Record<string, Record<string, unknown>> = {};
  for (const { op, operation, names } of built) {
    const item = paths[op.path] ?? {};
    if (item[op.method] !== undefined) throw new Error(`${op.method} ${op.path} is listed twice`);
    item[op.method] = {
      ...operation,
      responses: shared.resolve(operation.responses as Record<string, unknown>, names),
    };
    paths[op.path] = item;
  }
  return deepFreeze({
    openapi: "3.1.0",
    info: {
      title: "Data-sharing gateway",
      version: "1.0.0",
      summary: "Partners exchange data under agreements; the gateway enforces, meters and audits.",
      description:
        "Every route of the gateway (contract v1). Errors are RFC 9457 problem details with a stable `code`; " +
        "the token endpoint answers RFC 6749 errors. Every response carries X-Request-Id. Times are ISO 8601 in UTC; " +
        "money is an integer number of micro-units next to an ISO 4217 currency. Lists answer { items, next } and take limit and cursor.",
    },
    tags: TAGS,
    paths,
    components: {
      schemas: mergeComponents(
        componentSchemas(REQUEST_SCHEMAS, "input"),
        componentSchemas(RESPONSE_SCHEMAS, "output"),
      ),
      responses: shared.components(),
      headers: HEADERS,
      securitySchemes: {
        oauth2: {
          type: "oauth2",
          description:
            "Access tokens from the gateway's own token endpoint; the scope decides the role. " +
            "A token is sent as Authorization: Bearer <token>; a DPoP-bound token (cnf.jkt, RFC 9449) only as " +
            "Authorization: DPoP <token> with a DPoP header holding a fresh proof for that request " +
            "(htm, htu = the URL without query, iat within 60 s, ath = the base64url SHA-256 of the token, a jti never used before, " +
            "signed with the bound key), and a certificate-bound token (cnf.x5t#S256, RFC 8705) only with the same client certificate. " +
            'A missing, wrong or replayed proof, or a bound token sent as Bearer: 401 invalid_token with WWW-Authenticate: DPoP error="invalid_dpop_proof" ' +
            '(or error="invalid_token"); where the deployment uses nonces, error="use_dpop_nonce" and the nonce in DPoP-Nonce.',
          flows: { clientCredentials: { tokenUrl: "/oauth/token", scopes: OAUTH_SCOPES } },
        },
        clientBasic: {
          type: "http",
          scheme: "basic",
          description:
            "The token endpoint's client authentication: client id and secret, each form-urlencoded (RFC 6749 §2.3.1). " +
            "Instead, a client with registered keys may send a client assertion in the form.",
        },
      },
    },
  });
}

let cached: OpenApiDocument | undefined;

/** The document, built on first use and kept. */
export function openapiDocument(): OpenApiDocument {
  cached ??= buildDocument();
  return cached;
}

/** The document with `servers` naming the origin the caller used. */
export function documentFor(origin: string): OpenApiDocument {
  const { openapi, info, ...rest } = openapiDocument();
  return { openapi, info, servers: [{ url: origin }], ...rest };
}
