/**
 * People's access tokens, issued by the configured OpenID provider and
 * accepted on the admin and metrics routes beside the gateway's own tokens.
 * Verified as strictly as the provider allows: an asymmetric algorithm
 * allow-list, the provider's published keys, issuer, audience (in `aud` or,
 * for Cognito, `client_id`), a `typ` that is an access token's (or none, as
 * Cognito, Entra and Okta send), required exp/iat/sub and a token id,
 * finite times, a bounded lifetime and at most 5 s of clock leeway. The
 * person's groups or roles (one configured claim) map to the gateway's
 * roles, which become the token's scopes; the person is `person:<username>`
 * wherever an actor is named.
 */
import { decodeJwt, type JWTPayload, errors as joseErrors, jwtVerify } from "jose";
import type { AccessClaims } from "../auth/tokens.ts";
import { CLOCK_TOLERANCE_SECONDS, MAX_TOKEN_CHARS } from "../auth/tokens.ts";
import { InvalidTokenError } from "../errors.ts";
import { IdentityProviderUnavailableError, type PeopleProvider } from "./provider.ts";
import type { PeopleSettings, PersonRole } from "./settings.ts";

/** Asymmetric algorithms only: never `none`, never an HMAC keyed with something public. */
export const PEOPLE_ALGORITHMS = ["RS256", "PS256", "ES256"] as const;

/** `typ` values that name an access token (RFC 9068), or a plain JWT. */
const ACCEPTED_TYP = new Set(["at+jwt", "application/at+jwt", "jwt"]);

/** What an actor may be called: printable, no separators that could forge another entry. */
const USERNAME = /^[\p{L}\p{N}._@+-]{1,128}$/u;

export interface Person {
  /** `person:<username>`: how the audit trail names them. */
  readonly actor: string;
  readonly username: string;
  readonly roles: readonly PersonRole[];
}

export class PeopleVerifier {
  constructor(
    readonly settings: PeopleSettings,
    private readonly provider: PeopleProvider,
  ) {}

  get issuer(): string {
    return this.settings.issuer;
  }

  /** Whether a bearer token claims to come from this provider (unverified: it picks the verifier). */
  claimsIssuer(token: string): boolean {
    if (token.length > MAX_TOKEN_CHARS) return false;
    try {
      return decodeJwt(token).iss === this.settings.issuer;
    } catch {
      return false;
    }
  }

  /** Verifies a person's access token; the claims the gateway's routes read. */
  async verify(token: string, now: Date): Promise<AccessClaims & { person: Person }> {
    const keys = await this.provider.keys();
    let payload: JWTPayload;
    let typ: string | undefined;
    try {
      const verified = await jwtVerify(token, keys, {
        issuer: this.settings.issuer,
        algorithms: [...PEOPLE_ALGORITHMS],
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        currentDate: now,
        requiredClaims: ["exp", "iat", "sub"],
        ...(this.settings.audienceClaim === "aud" ? { audience: this.settings.audience } : {}),
      });
      payload = verified.payload;
      typ = verified.protectedHeader.typ;
    } catch (err) {
      throw asTokenError(err);
    }
    if (typ !== undefined && !ACCEPTED_TYP.has(typ.toLowerCase()))
      throw new InvalidTokenError("the token is not an access token", "typ");
    if (
      this.settings.audienceClaim === "client_id" &&
      payload.client_id !== this.settings.audience
    ) {
      throw new InvalidTokenError("the token claim client_id is not acceptable", "claims");
    }
    return claimsOf(payload, this.settings, now);
  }
}

function asTokenError(err: unknown): Error {
  if (err instanceof IdentityProviderUnavailableError) return err;
  if (err instanceof joseErrors.JWTExpired)
    return new InvalidTokenError("the token has expired", "expired");
  if (err instanceof joseErrors.JOSEAlgNotAllowed)
    return new InvalidTokenError("the token algorithm is not allowed", "algorithm");
  if (err instanceof joseErrors.JWKSNoMatchingKey)
    return new InvalidTokenError("the token was not signed by a key of its issuer", "kid");
  if (err instanceof joseErrors.JWKSTimeout || err instanceof joseErrors.JWKSInvalid)
    return new IdentityProviderUnavailableError("publish its keys", err);
  if (err instanceof joseErrors.JWTClaimValidationFailed)
    return new InvalidTokenError(`the token claim ${err.claim} is not acceptable`, "claims");
  if (err instanceof joseErrors.JOSEError)
    return new InvalidTokenError("the token does not verify", "signature");
  // Anything else is the key fetch failing (network): the provider, not the token.
  return new IdentityProviderUnavailableError("publish its keys", err);
}

function claimsOf(
  payload: JWTPayload,
  settings: PeopleSettings,
  now: Date,
): AccessClaims & { person: Person } {
  const { exp, iat, sub } = payload;
  // Entra ID names its token id `uti`; the others `jti`.
  const jti = typeof payload.jti === "string" ? payload.jti : payload.uti;
  if (typeof exp !== "number" || typeof iat !== "number" || !Number.isFinite(exp + iat))
    throw new InvalidTokenError("the token times are not finite numbers", "claims");
  if (exp <= iat || exp - iat > settings.maxTokenLifetimeSeconds)
    throw new InvalidTokenError("the token lifetime is not acceptable", "lifetime");
  if (iat - CLOCK_TOLERANCE_SECONDS > Math.floor(now.getTime() / 1000))
    throw new InvalidTokenError("the token claim iat is not acceptable", "claims");
  if (typeof sub !== "string" || sub === "" || typeof jti !== "string" || jti === "")
    throw new InvalidTokenError("the token subject or id is missing", "claims");
  const username = payload[settings.usernameClaim];
  if (typeof username !== "string" || !USERNAME.test(username))
    throw new InvalidTokenError(
      `the token claim ${settings.usernameClaim} is not a username`,
      "claims",
    );
  const raw = payload[settings.rolesClaim];
  const groups =
    typeof raw === "string"
      ? raw.split(" ")
      : Array.isArray(raw)
        ? raw.filter((g): g is string => typeof g === "string")
        : [];
  const roles = new Set<PersonRole>();
  for (const g of groups) for (const r of settings.roleMap[g] ?? []) roles.add(r);
  const person: Person = { actor: `person:${username}`, username, roles: [...roles].sort() };
  // A person's token is the provider's: no gateway credentials, no generation to outlive.
  return {
    sub: person.actor,
    scopes: person.roles,
    jti,
    exp,
    iat,
    bind: {},
    generation: 0,
    person,
  };
}
