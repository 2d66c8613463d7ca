/**
 * Every problem code the gateway answers (or will, where the contract's v2
 * sections name it), in one table: its HTTP status, a short title, and what it
 * means in the contract's words. Errors (errors.ts), problem bodies
 * (http/problem.ts), exchange denials and the OpenAPI document all read it,
 * so a code cannot be answered, or documented, under a status of its own
 * making.
 *
 * A few codes are answered under more than one status: `leak_blocked` (a
 * deliver body: 422; a backend's answer: 502) and the codes an agreement rule
 * shares with other routes (`jurisdiction_blocked` on an exchange: 451, as a
 * rule: 422; `partner_not_found`, `dataset_not_found`: 404, as a rule: 422).
 * Their `status` lists the usual one first; a caller answering another names
 * it (`{ status: 422 }`, `at(422, ...)` in the OpenAPI operations).
 */

export interface ProblemSpec {
  readonly status: number | readonly [number, ...number[]];
  /** The problem type's short, human-readable summary (RFC 9457 `title`). */
  readonly title: string;
  /** When it is answered, as the contract words it (shown in the OpenAPI document). */
  readonly about: string;
}

export const PROBLEMS = {
  // ------------------------------------------------------------ any route
  invalid_request: {
    status: 400,
    title: "Invalid request",
    about: "a malformed request; the detail and `errors` name the field",
  },
  invalid_path: {
    status: 400,
    title: "Invalid path",
    about:
      "a path with dot segments, encoded separators, control characters, or one that would leave the dataset's path",
  },
  invalid_token: {
    status: 401,
    title: "Invalid token",
    about: "missing, malformed, forged, expired, wrong issuer or audience, algorithm not allowed",
  },
  scope_missing: {
    status: 403,
    title: "Scope missing",
    about: "the token does not carry the scope this call needs",
  },
  not_found: { status: 404, title: "No such route", about: "no route for this method and path" },
  method_not_allowed: {
    status: 405,
    title: "Method not allowed",
    about: "exchanges are GET (read) or POST (deliver)",
  },
  conflict: {
    status: 409,
    title: "Conflict",
    about: "the id is taken, or the target changed meanwhile or cannot make this transition",
  },
  payload_too_large: {
    status: 413,
    title: "Payload too large",
    about: "the body is over the size cap",
  },
  headers_too_large: {
    status: 431,
    title: "Headers too large",
    about: "the request headers are over the size cap",
  },
  internal_error: {
    status: 500,
    title: "Internal error",
    about: "the gateway failed to answer; the failure was logged",
  },
  store_unavailable: {
    status: 503,
    title: "Store unavailable",
    about: "the store did not answer; retry (see Retry-After)",
  },
  identity_provider_unavailable: {
    status: 503,
    title: "Sign-in provider unavailable",
    about:
      "a person's token could not be checked: the OpenID provider (OIDC_ISSUER) did not answer; retry (see Retry-After)",
  },

  // ------------------------------------------------------------ exchange denials (policies/decide.ts)
  agreement_not_found: {
    status: 404,
    title: "Agreement not found",
    about: "no such agreement (or not one of the caller's)",
  },
  not_party: {
    status: 403,
    title: "Not a party",
    about: "the caller is not the consumer (read) or the provider (deliver)",
  },
  partner_revoked: { status: 403, title: "Partner revoked", about: "either party is revoked" },
  partner_suspended: {
    status: 403,
    title: "Partner suspended",
    about: "either party is suspended",
  },
  partner_offboarded: {
    status: 403,
    title: "Partner offboarded",
    about: "either party was phased out (its agreements ended)",
  },
  agreement_inactive: {
    status: 403,
    title: "Agreement inactive",
    about: "the agreement is suspended or terminated",
  },
  agreement_not_yet_valid: {
    status: 403,
    title: "Agreement not yet valid",
    about: "before validFrom",
  },
  agreement_expired: { status: 403, title: "Agreement expired", about: "after validUntil" },
  action_not_permitted: {
    status: 403,
    title: "Action not permitted",
    about: "the agreement does not allow this action",
  },
  purpose_not_permitted: {
    status: 403,
    title: "Purpose not permitted",
    about: "Data-Purpose missing or not among the agreement's purposes",
  },
  jurisdiction_blocked: {
    status: [451, 422],
    title: "Jurisdiction blocked",
    about: "trade compliance: export control, embargo or denied party",
  },

  // ------------------------------------------------------------ exchange payloads, backends, metering
  quota_exceeded: {
    status: 429,
    title: "Quota exceeded",
    about: "a quota of the agreement is used up; see Retry-After",
  },
  unsupported_media_type: {
    status: 415,
    title: "Unsupported media type",
    about: "a body the gateway cannot inspect (type or encoding)",
  },
  leak_blocked: {
    status: [422, 502],
    title: "Leak blocked",
    about: "the payload holds data that must not leave",
  },
  uninspectable_content: {
    status: 502,
    title: "Uninspectable content",
    about: "a backend's answer the gateway cannot inspect (type, encoding, size, depth)",
  },
  upstream_error: {
    status: 502,
    title: "Upstream error",
    about: "the backend could not be reached or answered an error",
  },
  upstream_timeout: {
    status: 504,
    title: "Upstream timeout",
    about: "the backend did not answer in time",
  },
  metering_unavailable: {
    status: 503,
    title: "Metering unavailable",
    about: "the flow could not be metered: nothing was released",
  },

  // ------------------------------------------------------------ operators' resources
  partner_not_found: {
    status: [404, 422],
    title: "Partner not found",
    about: "no such partner",
  },
  dataset_not_found: {
    status: [404, 422],
    title: "Dataset not found",
    about: "no such dataset",
  },
  client_not_found: { status: 404, title: "Client not found", about: "no such client" },
  backend_not_allowed: {
    status: 422,
    title: "Backend not allowed",
    about: "the baseUrl is not https or resolves to a loopback, private or link-local address",
  },

  // ------------------------------------------------------------ agreement rules (policies/agreement-rules.ts)
  provider_not_owner: {
    status: 422,
    title: "Provider not owner",
    about: "the provider does not own the dataset (or a dataset's owner would change)",
  },
  partner_not_active: {
    status: 422,
    title: "Partner not active",
    about: "a party is not active",
  },
  core_field_not_shareable: {
    status: 422,
    title: "Core field not shareable",
    about: "a granted field is classified core",
  },
  personal_field_needs_purpose: {
    status: 422,
    title: "Personal field needs a purpose",
    about: "a personal field is granted without purposes",
  },
  pseudonymize_not_granted: {
    status: 422,
    title: "Pseudonymized field not granted",
    about: "pseudonymize names a field that is not granted",
  },
  invalid_shares: {
    status: 422,
    title: "Invalid value shares",
    about: "valueShares do not sum to 10000 bps or name unknown partners",
  },
  invalid_validity: {
    status: 422,
    title: "Invalid validity",
    about: "validFrom is not before validUntil",
  },
  unsafe_pattern: {
    status: 422,
    title: "Unsafe pattern",
    about: "a core marker could backtrack catastrophically",
  },
  unsupported_odrl_term: {
    status: 422,
    title: "Unsupported ODRL term",
    about: "the ODRL policy uses a term the gateway cannot enforce",
  },

  // ------------------------------------------------------------ v2: transfers, catalog, finance periods
  transfer_not_found: {
    status: 404,
    title: "Transfer not found",
    about: "no such transfer (or not one of the caller's)",
  },
  url_refused: {
    status: 403,
    title: "URL refused",
    about:
      "a transfer's `url` or `uploadUrl` whose signature, expiry or object was altered, or that expired",
  },
  offer_not_found: { status: 404, title: "Offer not found", about: "no such offer" },
  agreement_request_not_found: {
    status: 404,
    title: "Agreement request not found",
    about: "no such agreement request (or the caller is no party to it)",
  },
  not_in_offer: {
    status: 422,
    title: "Not in the offer",
    about: "a field, purpose or action the offer does not hold",
  },
  invalid_transition: {
    status: 409,
    title: "Invalid transition",
    about: "the request's state does not allow this step",
  },
  period_closed: {
    status: 409,
    title: "Period closed",
    about: "the period was closed already",
  },
  period_open: {
    status: 409,
    title: "Period still open",
    about:
      "the current or a future month, or a past one within 30 minutes of its end (writes may still be landing for it), cannot be closed",
  },
} as const satisfies Readonly<Record<string, ProblemSpec>>;

export type ProblemCode = keyof typeof PROBLEMS;

type Statuses<S> = S extends readonly (infer N)[] ? N : S;

/** The statuses code C is answered under. */
export type StatusOf<C extends ProblemCode> = Statuses<(typeof PROBLEMS)[C]["status"]>;

/** The status code C answers with unless its caller names another of its own. */
export type UsualStatusOf<C extends ProblemCode> = (typeof PROBLEMS)[C]["status"] extends infer S
  ? S extends readonly [infer First, ...unknown[]]
    ? First
    : S
  : never;

/** Every status some problem is answered under. */
export type ProblemStatus = StatusOf<ProblemCode>;

/** The codes answered under status S. */
export type CodeOf<S extends ProblemStatus> = {
  [C in ProblemCode]: S extends StatusOf<C> ? C : never;
}[ProblemCode];

/** The RFC 9110 reason phrase of every status a problem is answered under. */
export const REASON_PHRASES: Readonly<Record<ProblemStatus, string>> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  413: "Payload Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  451: "Unavailable For Legal Reasons",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

/** The statuses of a code, its usual one first. */
export function statusesOf<C extends ProblemCode>(code: C): readonly StatusOf<C>[] {
  const status: number | readonly number[] = PROBLEMS[code].status;
  return (typeof status === "number" ? [status] : status) as readonly StatusOf<C>[];
}

/**
 * The status code answers with: the one named, which must be one of its own,
 * else its usual one. A status outside the code's own is a bug and throws.
 */
export function statusFor<C extends ProblemCode>(code: C, status?: StatusOf<C>): StatusOf<C> {
  const own = statusesOf(code);
  if (status === undefined) return own[0] as StatusOf<C>;
  if (!own.includes(status)) throw new Error(`${code} is never answered with ${status}`);
  return status;
}

export const isProblemCode = (code: string): code is ProblemCode => Object.hasOwn(PROBLEMS, code);
