/**
 * The gateway's error tree. Every error carries a problem code of the table
 * (problems.ts), and from it its HTTP status; one `onError` turns them into
 * problem details. Anything else that escapes is a bug and answers 500
 * without detail.
 */
import { type CodeOf, type ProblemCode, type StatusOf, statusFor } from "./problems.ts";

export interface FieldIssue {
  readonly field: string;
  readonly message: string;
}

export interface GatewayErrorOptions<C extends ProblemCode = ProblemCode> {
  /** One of the code's own statuses; default: its usual one (the first in the table). */
  readonly status?: StatusOf<C>;
  readonly cause?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  /** Extra members of the problem details object (RFC 9457 extensions). */
  readonly extensions?: Readonly<Record<string, unknown>>;
}

export class GatewayError<C extends ProblemCode = ProblemCode> extends Error {
  override readonly name: string = "GatewayError";
  readonly status: StatusOf<C>;
  readonly headers: Readonly<Record<string, string>>;
  readonly extensions: Readonly<Record<string, unknown>>;

  constructor(
    readonly code: C,
    detail: string,
    options: GatewayErrorOptions<C> = {},
  ) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.status = statusFor(code, options.status);
    this.headers = options.headers ?? {};
    this.extensions = options.extensions ?? {};
  }
}

/** 400 invalid_request: a malformed request; names the field. */
export class InvalidRequestError extends GatewayError<"invalid_request"> {
  override readonly name = "InvalidRequestError";
  constructor(
    readonly field: string,
    message: string,
    readonly issues: readonly FieldIssue[] = [{ field, message }],
  ) {
    super("invalid_request", `${field}: ${message}`, { extensions: { errors: issues } });
  }
}

/** 422: a well-formed request that breaks a business rule. */
export class RuleViolationError extends GatewayError<CodeOf<422>> {
  override readonly name = "RuleViolationError";
  constructor(
    code: CodeOf<422>,
    detail: string,
    readonly violations: readonly { code: string; message: string; field?: string }[] = [],
  ) {
    super(code, detail, {
      status: 422,
      extensions: violations.length > 0 ? { violations } : {},
    });
  }
}

export class NotFoundError extends GatewayError<CodeOf<404>> {
  override readonly name = "NotFoundError";
  constructor(code: CodeOf<404>, detail: string) {
    super(code, detail, { status: 404 });
  }
}

export class ConflictError extends GatewayError<"conflict"> {
  override readonly name = "ConflictError";
  constructor(detail: string) {
    super("conflict", detail);
  }
}

/**
 * 401 invalid_token: the token is missing or does not verify, or (for a
 * sender-constrained token) its proof is missing, wrong or replayed. The
 * challenge names the scheme the caller must use and the error (RFC 6750
 * §3, RFC 9449 §7.1); a DPoP nonce goes in `DPoP-Nonce`.
 */
export class InvalidTokenError extends GatewayError<"invalid_token"> {
  override readonly name = "InvalidTokenError";
  constructor(
    detail: string,
    readonly reason: string,
    challenge: {
      readonly scheme?: "Bearer" | "DPoP";
      readonly error?: "invalid_token" | "invalid_dpop_proof" | "use_dpop_nonce";
      readonly headers?: Readonly<Record<string, string>>;
    } = {},
  ) {
    const scheme = challenge.scheme ?? "Bearer";
    const algs = scheme === "DPoP" ? ` algs="${DPOP_CHALLENGE_ALGS}"` : "";
    super("invalid_token", detail, {
      headers: {
        "WWW-Authenticate": `${scheme} error="${challenge.error ?? "invalid_token"}"${algs}`,
        ...challenge.headers,
      },
    });
  }
}

/** The DPoP proof algorithms a DPoP challenge names (functions/auth/dpop.ts's allow-list). */
const DPOP_CHALLENGE_ALGS = "ES256 ES384 EdDSA Ed25519 PS256 RS256";

export class ForbiddenError extends GatewayError<CodeOf<403>> {
  override readonly name = "ForbiddenError";
  constructor(
    code: CodeOf<403>,
    detail: string,
    options: Omit<GatewayErrorOptions<CodeOf<403>>, "status"> = {},
  ) {
    super(code, detail, { ...options, status: 403 });
  }
}

/**
 * The store did not answer as it must (throttled, timed out, access denied,
 * missing table). Never an allow: callers map it to a 503.
 */
export class StoreUnavailableError extends GatewayError<CodeOf<503>> {
  override readonly name = "StoreUnavailableError";
  constructor(operation: string, cause: unknown, code: CodeOf<503> = "store_unavailable") {
    super(code, `the store could not complete ${operation}`, {
      status: 503,
      cause,
      headers: { "Retry-After": "1" },
    });
  }
}
