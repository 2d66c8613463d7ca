/**
 * Zod schemas for the shapes the gateway answers with (and for the few
 * requests no zod schema validates: the OAuth form, the flow map's format),
 * written from the handlers. Requests validated with zod use those very
 * schemas instead (see operations.ts); these only describe.
 */
import * as z from "zod";
import { EXCHANGE_DENIAL_CODES } from "../../policies/codes.ts";
import { DIMENSIONS } from "../metrics/flows.ts";
import { EVENT_SUBJECT_KINDS, EVENT_TYPES } from "../store/outbox.ts";
import { JWT_BEARER_ASSERTION } from "../token/client-auth.ts";
import { OAUTH_ERRORS, type OAuthErrorCode } from "../token/oauth-error.ts";

const Time = z.string().describe("ISO 8601 time in UTC");
const Count = z.int().min(0);
/** Money per currency: integer micro-units keyed by ISO 4217 code. */
const AmountsByCurrency = z.record(z.string(), z.int());

// ---------------------------------------------------------------- errors

/** RFC 9457 problem details; `code` is the contract's stable reason. */
export const Problem = z.looseObject({
  type: z.string().describe("urn:dsg:problem:<code>"),
  title: z.string(),
  status: z.int().min(400).max(599),
  detail: z.string(),
  code: z.string().describe("stable machine-readable reason"),
  errors: z
    .array(z.object({ field: z.string(), message: z.string() }))
    .optional()
    .describe("invalid_request: every field that failed, first one named in detail"),
  violations: z
    .array(z.object({ code: z.string(), message: z.string(), field: z.string().optional() }))
    .optional()
    .describe("422: every broken rule"),
  reasons: z
    .array(z.object({ code: z.string(), message: z.string() }))
    .optional()
    .describe("exchange denials: every reason, in the order they are checked"),
});

/** RFC 6749 §5.2: the token endpoint's error shape. */
export const OAuthErrorBody = z.object({
  error: z.enum(Object.keys(OAUTH_ERRORS) as [OAuthErrorCode, ...OAuthErrorCode[]]),
  error_description: z.string(),
});

// ---------------------------------------------------------------- token endpoint

/**
 * The form the token endpoint reads (it parses it by hand; this describes it).
 * Unknown parameters are ignored, as RFC 6749 §3.2 requires.
 */
export const TokenForm = z.object({
  grant_type: z.literal("client_credentials"),
  scope: z
    .string()
    .max(4096)
    .optional()
    .describe(
      "space-separated: agreement:<id> ... for partners (default: all their active agreements), " +
        "admin, metrics:read or attestation for the client's own role",
    ),
  client_assertion_type: z
    .literal(JWT_BEARER_ASSERTION)
    .optional()
    .describe("RFC 7523 private_key_jwt, instead of HTTP Basic"),
  client_assertion: z
    .string()
    .optional()
    .describe("a JWT signed with a key registered via PUT /admin/partners/{id}/keys"),
  client_id: z.string().optional().describe("with an assertion: must equal its iss and sub"),
});

export const TokenResponse = z.object({
  access_token: z.string().describe("a JWT signed by the gateway"),
  token_type: z
    .enum(["Bearer", "DPoP"])
    .describe("DPoP when the request carried a DPoP proof: the token is bound to its key"),
  expires_in: z.int().min(1).describe("seconds"),
  scope: z.string().describe("the granted scopes, space-separated"),
});

export const Jwk = z.looseObject({
  kty: z.string(),
  kid: z.string(),
  alg: z.string().optional(),
  use: z.string().optional(),
  crv: z.string().optional(),
  x: z.string().optional(),
  y: z.string().optional(),
  n: z.string().optional(),
  e: z.string().optional(),
});

export const Jwks = z.object({ keys: z.array(Jwk) });

export const AuthorizationServerMetadata = z.looseObject({
  issuer: z.string(),
  token_endpoint: z.string(),
  jwks_uri: z.string(),
  grant_types_supported: z.array(z.string()),
  token_endpoint_auth_methods_supported: z.array(z.string()),
  token_endpoint_auth_signing_alg_values_supported: z.array(z.string()),
  client_assertion_types_supported: z.array(z.string()),
  response_types_supported: z.array(z.string()),
  scopes_supported: z.array(z.string()),
  dpop_signing_alg_values_supported: z
    .array(z.string())
    .describe("the algorithms a DPoP proof may use (RFC 9449 §5.1)"),
  tls_client_certificate_bound_access_tokens: z
    .boolean()
    .optional()
    .describe("where the deployment has an mTLS domain (RFC 8705)"),
});

export const Health = z.object({ status: z.literal("ok") });

// ---------------------------------------------------------------- credentials

export const ClientCredentials = z.object({
  clientId: z.string(),
  clientSecret: z.string().describe("shown once; URL-safe characters only"),
});

export const ClientCreated = z.object({
  ...ClientCredentials.shape,
  role: z.enum(["admin", "metrics:read", "metrics:close"]),
});

export const PartnerKeys = z.object({ clientId: z.string(), keys: z.array(Jwk) });

// ---------------------------------------------------------------- audit, events

export const AuditEntry = z.object({
  id: z.string(),
  seq: z.int().min(1),
  at: Time,
  actor: z.string(),
  action: z.string(),
  target: z.string(),
  reason: z.string().nullable(),
  requestId: z.string().nullable(),
  partners: z.array(z.string()),
  details: z.record(z.string(), z.unknown()).optional(),
  prevHash: z.string(),
  hash: z.string(),
});

export const AuditVerification = z.object({
  valid: z.boolean(),
  entries: Count,
  firstBroken: z.string().nullable().describe("id of the first entry that breaks the chain"),
});

export const GatewayEvent = z.object({
  id: z.string(),
  type: z.enum(EVENT_TYPES),
  at: Time,
  subject: z.object({ kind: z.enum(EVENT_SUBJECT_KINDS), id: z.string() }),
  reason: z.string().nullable(),
  data: z.record(z.string(), z.unknown()),
});

export const Delivery = z.object({
  id: z.string(),
  event: GatewayEvent,
  recipient: z.string(),
  state: z.enum(["pending", "delivered", "failed"]),
  attempts: Count,
  createdAt: Time,
  nextAttemptAt: Time.nullable(),
  lastError: z.string().nullable(),
  deliveredAt: Time.nullable(),
});

// ---------------------------------------------------------------- decisions, flows, exit

export const DecisionResult = z.object({
  decision: z.enum(["permit", "deny"]),
  reasons: z.array(z.object({ code: z.enum(EXCHANGE_DENIAL_CODES), message: z.string() })),
  at: Time.describe("the time the decision was made for"),
});

export const FlowMap = z.object({
  nodes: z.array(
    z.object({
      id: z.string(),
      name: z.string(),
      jurisdiction: z.string(),
      status: z.string(),
      owns: z.array(z.string()).describe("datasets the partner owns"),
    }),
  ),
  edges: z.array(
    z.object({
      agreement: z.string(),
      from: z.string().describe("provider"),
      to: z.string().describe("consumer"),
      dataset: z.string(),
      status: z.string(),
      actions: z.array(z.string()),
      fields: z.object({ shared: z.array(z.string()), personal: z.array(z.string()) }),
      value: AmountsByCurrency.describe("value to date per currency, micro-units"),
    }),
  ),
});

export const Attestation = z.object({
  partner: z.string(),
  agreement: z.string(),
  deletedAt: Time,
  statement: z.string(),
  recordedAt: Time,
  recordedBy: z.string().describe("the partner itself, or the operator acting for it"),
});

export const ExitReport = z.object({
  partner: z.string(),
  status: z.string(),
  leaving: z.boolean().describe("revoked or offboarded"),
  received: z.array(
    z.object({
      agreement: z.string(),
      dataset: z.string(),
      provider: z.string(),
      fields: z.array(z.string()),
      records: Count,
      requests: Count,
      retentionDays: z.int().nullable(),
      attestation: Attestation.nullable(),
      outstanding: z.boolean().describe("received records and no deletion attested"),
    }),
  ),
  outstanding: z.array(z.string()).describe("agreements whose deletion is not attested"),
});

// ---------------------------------------------------------------- metrics, usage

const Dimension = (what: string) =>
  z.string().optional().describe(`${what}; left out where groupBy does not name it`);

export const FlowRow = z.object({
  agreement: Dimension("agreement id"),
  provider: Dimension("provider id"),
  consumer: Dimension("consumer id"),
  dataset: Dimension("dataset id"),
  period: z.string().describe("the hour, day (YYYY-MM-DD), month (YYYY-MM) or from/to"),
  requests: Count.describe("exchanges that released data"),
  denied: Count.describe("exchanges refused by policy"),
  blocked: Count.describe("exchanges refused because the payload held data that must not leave"),
  failed: Count.describe(
    "exchanges refused because a backend's answer could not be used (uninspectable, upstream error or timeout)",
  ),
  records: Count,
  bytes: Count,
  value: z.object({
    currency: z.string(),
    amount: z.int().describe("micro-units: perRequest + perRecord × records"),
  }),
});

export const FlowsReport = z.object({ from: Time, to: Time, items: z.array(FlowRow) });

export const Attribution = z.object({
  from: Time,
  to: Time,
  items: z.array(
    z.object({
      partner: z.string(),
      earned: AmountsByCurrency,
      paid: AmountsByCurrency,
    }),
  ),
});

export const Reconciliation = z.object({
  from: Time,
  to: Time,
  flows: Count,
  events: Count,
  consistent: z.boolean(),
  differences: z.array(
    z.object({
      agreement: z.string(),
      period: z.string().describe("the hour, day (YYYY-MM-DD) or month (YYYY-MM) compared"),
      hour: z.string().optional(),
      currency: z.string(),
      rollup: z.record(z.string(), z.int()),
      events: z
        .record(z.string(), z.int())
        .describe("the events recounted (refusal counts: the hourly rollups summed)"),
    }),
  ),
  periods: z.array(z.string()).describe("the days and months of the period index proved"),
});

export const PeriodClosed = z.object({
  period: z.string(),
  closedAt: Time,
  sha256: z.string().describe("hex SHA-256 of the statement's JSON bytes, kept at close"),
});

const Micro = z.int().describe("micro-units");

export const Statement = z.object({
  period: z.string(),
  closed: z.boolean(),
  closedAt: Time.optional(),
  items: z.array(
    z.object({
      partner: z.string(),
      currency: z.string(),
      earned: Micro,
      paid: Micro,
      lines: z.array(
        z.object({
          kind: z.enum(["usage", "adjustment"]),
          agreement: z.string(),
          dataset: z.string(),
          counterparty: z.string(),
          requests: z.int(),
          records: z.int(),
          earned: Micro,
          paid: Micro,
        }),
      ),
    }),
  ),
});

export const QuotaUsed = z.object({
  requestsToday: Count,
  requestsPerDay: z.int().nullable(),
  recordsThisMonth: Count,
  recordsPerMonth: z.int().nullable(),
});

export const DeliverResult = z.object({ delivered: z.literal(true), records: Count });

/** Comma-separated dimensions, exactly what FlowsQuery's transform accepts. */
export const GROUP_BY_PATTERN = `^$|^(${DIMENSIONS.join("|")})(,(${DIMENSIONS.join("|")}))*$`;
