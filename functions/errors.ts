/**
 * The gateway's error tree. Every error carries the HTTP status and the stable
 * `code` of the contract; one `onError` turns them into problem details.
 * Anything else that escapes is a bug and answers 500 without detail.
 */

export interface FieldIssue {
  readonly field: string;
  readonly message: string;
}

export interface GatewayErrorOptions {
  readonly cause?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  /** Extra members of the problem details object (RFC 9457 extensions). */
  readonly extensions?: Readonly<Record<string, unknown>>;
}

export class GatewayError extends Error {
  override readonly name: string = "GatewayError";
  readonly headers: Readonly<Record<string, string>>;
  readonly extensions: Readonly<Record<string, unknown>>;

  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
    options: GatewayErrorOptions = {},
  ) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.headers = options.headers ?? {};
    this.extensions = options.extensions ?? {};
  }
}

/** 400 invalid_request: a malformed request; names the field. */
export class InvalidRequestError extends GatewayError {
  override readonly name = "InvalidRequestError";
  constructor(
    readonly field: string,
    message: string,
    readonly issues: readonly FieldIssue[] = [{ field, message }],
  ) {
    super(400, "invalid_request", `${field}: ${message}`, { extensions: { errors: issues } });
  }
}

/** 422: a well-formed request that breaks a business rule. */
export class RuleViolationError extends GatewayError {
  override readonly name = "RuleViolationError";
  constructor(
    code: string,
    detail: string,
    readonly violations: readonly { code: string; message: string; field?: string }[] = [],
  ) {
    super(422, code, detail, { extensions: violations.length > 0 ? { violations } : {} });
  }
}

export class NotFoundError extends GatewayError {
  override readonly name = "NotFoundError";
  constructor(code: string, detail: string) {
    super(404, code, detail);
  }
}

export class ConflictError extends GatewayError {
  override readonly name = "ConflictError";
  constructor(detail: string) {
    super(409, "conflict", detail);
  }
}

/** 401 invalid_token: the bearer token is missing or does not verify. */
export class InvalidTokenError extends GatewayError {
  override readonly name = "InvalidTokenError";
  constructor(
    detail: string,
    readonly reason: string,
  ) {
    super(401, "invalid_token", detail, {
      headers: { "WWW-Authenticate": `Bearer error="invalid_token"` },
    });
  }
}

export class ForbiddenError extends GatewayError {
  override readonly name = "ForbiddenError";
  constructor(code: string, detail: string, options: GatewayErrorOptions = {}) {
    super(403, code, detail, options);
  }
}

/**
 * The store did not answer as it must (throttled, timed out, access denied,
 * missing table). Never an allow: callers map it to a 503.
 */
export class StoreUnavailableError extends GatewayError {
  override readonly name = "StoreUnavailableError";
  constructor(operation: string, cause: unknown, code = "store_unavailable") {
    super(503, code, `the store could not complete ${operation}`, {
      cause,
      headers: { "Retry-After": "1" },
    });
  }
}
