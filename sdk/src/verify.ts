/**
 * For partner backends: is this request really from the gateway, and is
 * this event really the gateway's? Both are JWTs signed with the keys the
 * gateway publishes (`/.well-known/jwks.json`, fetched with jose's remote
 * JWKS set, cached per gateway and refreshed when a new key id appears).
 * Checked: ES256 only, the gateway as issuer, this partner as audience, the
 * `typ` (`gateway+jwt` for requests, `gateway-event+jwt` for events, so an
 * access token or an event is never taken for a request), `exp`, `iat` and
 * `jti` present, a lifetime of at most 300 s, 5 s of clock leeway.
 */
import { createRemoteJWKSet, errors, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from "jose";

export const GATEWAY_REQUEST_TYPE = "gateway+jwt";
export const GATEWAY_EVENT_TYPE = "gateway-event+jwt";
const MAX_LIFETIME_SECONDS = 300;
const CLOCK_TOLERANCE_SECONDS = 5;

export interface VerifyOptions {
  /** The gateway's URL, as partners call it, e.g. `https://gateway.example`. */
  readonly gatewayUrl: string;
  /** This backend's partner id: the token's audience. */
  readonly partnerId: string;
  /** The tokens' issuer; default: `gatewayUrl` (the gateway issues under its own URL). */
  readonly issuer?: string;
  /** Keys to use instead of the gateway's published ones (tests, pinned keys). */
  readonly keys?: JWTVerifyGetKey;
}

/** What a verified gateway request says. */
export interface GatewayRequest {
  /** The agreement the exchange is made under. */
  readonly agreement: string;
  /** The other party (the consumer of a read, the provider of a deliver). */
  readonly party: string;
  readonly purpose: string | null;
  readonly action: "read" | "deliver";
  readonly jti: string;
  readonly expiresAt: Date;
}

/** A verified event: the gateway's event, and the delivery id to drop repeats by. */
export interface GatewayEvent {
  readonly id: string;
  readonly type: string;
  readonly at: string;
  readonly subject: { readonly kind: string; readonly id: string };
  readonly reason: string | null;
  readonly data: Readonly<Record<string, unknown>>;
  /** The same on every retry of one delivery. */
  readonly deliveryId: string;
}

export type VerificationCode =
  | "missing_token"
  | "malformed"
  | "invalid_signature"
  | "wrong_type"
  | "wrong_issuer"
  | "wrong_audience"
  | "expired"
  | "not_yet_valid"
  | "lifetime_too_long"
  | "missing_claim"
  | "keys_unavailable";

/** The token or event did not verify; `code` says why. */
export class GatewayVerificationError extends Error {
  override readonly name = "GatewayVerificationError";
  constructor(
    readonly code: VerificationCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const remoteSets = new Map<string, JWTVerifyGetKey>();

/** The gateway's published keys, one cached set per gateway URL. */
export function gatewayKeys(gatewayUrl: string): JWTVerifyGetKey {
  const url = `${gatewayUrl.replace(/\/+$/, "")}/.well-known/jwks.json`;
  let set = remoteSets.get(url);
  if (set === undefined) {
    set = createRemoteJWKSet(new URL(url));
    remoteSets.set(url, set);
  }
  return set;
}

function codeOf(err: unknown): VerificationCode {
  if (err instanceof errors.JWTExpired)
    return err.claim === "iat" ? "lifetime_too_long" : "expired";
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === "iss") return "wrong_issuer";
    if (err.claim === "aud") return "wrong_audience";
    if (err.claim === "typ") return "wrong_type";
    if (err.claim === "nbf") return "not_yet_valid";
    return err.reason === "missing" ? "missing_claim" : "malformed";
  }
  if (
    err instanceof errors.JWSSignatureVerificationFailed ||
    err instanceof errors.JWKSNoMatchingKey ||
    err instanceof errors.JOSEAlgNotAllowed
  ) {
    return "invalid_signature";
  }
  // The key set could not be had: a network failure, a timeout, not a key set.
  if (
    !(err instanceof errors.JOSEError) ||
    err instanceof errors.JWKSTimeout ||
    err instanceof errors.JWKSInvalid ||
    err.constructor === errors.JOSEError
  ) {
    return "keys_unavailable";
  }
  return "malformed";
}

async function verify(
  jwt: string,
  typ: string,
  options: VerifyOptions,
  required: readonly string[],
): Promise<JWTPayload> {
  const gatewayUrl = options.gatewayUrl.replace(/\/+$/, "");
  try {
    const { payload } = await jwtVerify(jwt, options.keys ?? gatewayKeys(gatewayUrl), {
      issuer: options.issuer ?? gatewayUrl,
      audience: options.partnerId,
      typ,
      algorithms: ["ES256"],
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      maxTokenAge: MAX_LIFETIME_SECONDS,
      requiredClaims: ["exp", "iat", "jti", ...required],
    });
    const { exp = 0, iat = 0 } = payload;
    if (exp - iat > MAX_LIFETIME_SECONDS) {
      throw new GatewayVerificationError(
        "lifetime_too_long",
        `the token lives ${exp - iat} s; at most ${MAX_LIFETIME_SECONDS} s are accepted`,
      );
    }
    return payload;
  } catch (err) {
    if (err instanceof GatewayVerificationError) throw err;
    throw new GatewayVerificationError(codeOf(err), (err as Error).message, { cause: err });
  }
}

type HeaderSource =
  | Request
  | Headers
  | { readonly headers: Headers | Readonly<Record<string, string | string[] | undefined>> };

function authorization(source: HeaderSource): string | undefined {
  const headers = source instanceof Headers ? source : source.headers;
  if (headers instanceof Headers) return headers.get("authorization") ?? undefined;
  const value = headers.authorization ?? headers.Authorization;
  return Array.isArray(value) ? undefined : value;
}

/**
 * Verifies that a request to this backend comes from the gateway: its
 * `Authorization: Bearer` gateway JWT. Takes a Fetch `Request`, `Headers`,
 * or anything with `headers` (a Node `IncomingMessage`). Throws
 * GatewayVerificationError; resolves to what the gateway asks for.
 */
export async function verifyGatewayRequest(
  request: HeaderSource,
  options: VerifyOptions,
): Promise<GatewayRequest> {
  const token = /^Bearer ([A-Za-z0-9._-]+)$/.exec(authorization(request) ?? "")?.[1];
  if (token === undefined) {
    throw new GatewayVerificationError("missing_token", "no Authorization: Bearer token");
  }
  const p = await verify(token, GATEWAY_REQUEST_TYPE, options, ["agreement", "party", "action"]);
  const { agreement, party, action, purpose } = p;
  if (
    typeof agreement !== "string" ||
    typeof party !== "string" ||
    (action !== "read" && action !== "deliver") ||
    (purpose !== null && purpose !== undefined && typeof purpose !== "string")
  ) {
    throw new GatewayVerificationError("malformed", "the token's claims are not a gateway request");
  }
  return {
    agreement,
    party,
    action,
    purpose: purpose ?? null,
    jti: String(p.jti),
    expiresAt: new Date((p.exp ?? 0) * 1000),
  };
}

/** Verifies a signed event the gateway POSTed to `/gateway-events` (the body, a compact JWS). */
export async function verifyGatewayEvent(
  jws: string,
  options: VerifyOptions,
): Promise<GatewayEvent> {
  const p = await verify(jws.trim(), GATEWAY_EVENT_TYPE, options, ["event"]);
  const event = p.event as Partial<GatewayEvent> | undefined;
  if (
    typeof event !== "object" ||
    event === null ||
    typeof event.id !== "string" ||
    typeof event.type !== "string" ||
    typeof event.subject !== "object"
  ) {
    throw new GatewayVerificationError("malformed", "the event claim is not a gateway event");
  }
  return {
    id: event.id,
    type: event.type,
    at: String(event.at),
    subject: event.subject as GatewayEvent["subject"],
    reason: event.reason ?? null,
    data: event.data ?? {},
    deliveryId: String(p.jti),
  };
}
