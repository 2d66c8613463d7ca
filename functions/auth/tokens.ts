/**
 * Access tokens: issued by the token endpoint, verified on every call.
 * Verification is strict by design: an algorithm allow-list (ES256 only), a
 * header allow-list (no jku, x5u, jwk, x5c, crit), `typ` at+jwt, issuer,
 * audience, required exp/iat/sub/jti with finite values (nbf too when
 * present), a maximum lifetime, at most 5 s of clock leeway, no duplicate
 * members anywhere, and canonical base64url in every part (so the only other
 * spelling of a valid token is its ECDSA twin, below).
 *
 * Malleability, decided: an ECDSA signature (r, s) has a twin (r, n − s) that
 * verifies just as well; ES256 does not require low-S and KMS does not produce
 * it, so both are accepted. The consequence is that the token string is not
 * an identity: anything that counts, denies or remembers tokens keys on
 * issuer + jti (the client-assertion replay list does), never on the string.
 * The verified-token cache below is the one thing keyed on the exact string,
 * and must be: it only ever answers for the very bytes it verified (keying it
 * on jti would let a forged token borrow a verified one's claims). Each entry
 * answers exactly as a fresh verification would in time (not before
 * max(iat, nbf) − leeway, not at or after exp + leeway; the gateway's clock
 * decides, and an entry also expires of itself at exp + leeway), and a
 * verifier is built from one key set, so a key dropped in a rotation takes its
 * cache with it.
 */
import {
  createPublicKey,
  type JsonWebKey,
  type KeyObject,
  randomUUID,
  verify as verifySignature,
} from "node:crypto";
import type { JWK } from "jose";
import { LRUCache } from "lru-cache";
import { InvalidTokenError } from "../errors.ts";
import type { AgreementBinding } from "../store/registry.ts";
import { type Signer, signJws } from "./jws.ts";
import { parseStrictJson } from "./strict-json.ts";

export const ACCESS_TOKEN_TYPE = "at+jwt";
export const GATEWAY_TOKEN_TYPE = "gateway+jwt";
export const CLOCK_TOLERANCE_SECONDS = 5;
export const MAX_TOKEN_CHARS = 8192;

export interface AccessClaims {
  readonly sub: string;
  readonly scopes: readonly string[];
  readonly jti: string;
  readonly exp: number;
  readonly iat: number;
  /** Parties and dataset of each agreement in scope, so the exchange reads them in one round trip. */
  readonly bind: Readonly<Record<string, AgreementBinding>>;
  /**
   * The client's credential generation when the token was issued (claim
   * `cgen`, 0 when absent): a rotation raises the generation, and tokens of
   * an older one are refused wherever the client's record is read.
   */
  readonly generation: number;
  /** What the token is bound to (claim `cnf`): only its holder may use it. */
  readonly cnf?: Confirmation | undefined;
}

/**
 * A sender constraint: the thumbprint of a DPoP key (RFC 9449 `jkt`) and/or
 * of a client certificate (RFC 8705 `x5t#S256`).
 */
export interface Confirmation {
  readonly jkt?: string | undefined;
  readonly x5t?: string | undefined;
}

export interface TokenSettings {
  readonly issuer: string;
  readonly audience: string;
  /** Tokens with a longer lifetime (exp - iat) are refused. */
  readonly maxLifetimeSeconds: number;
}

export async function issueAccessToken(
  signer: Signer,
  settings: TokenSettings,
  grant: {
    sub: string;
    scopes: readonly string[];
    ttlSeconds: number;
    bind?: Record<string, AgreementBinding>;
    /** The credential generation the client authenticated with. */
    generation?: number;
    cnf?: Confirmation | undefined;
  },
  now: Date,
): Promise<{ token: string; jti: string; exp: number }> {
  const iat = Math.floor(now.getTime() / 1000);
  const jti = randomUUID();
  const exp = iat + grant.ttlSeconds;
  const bind = Object.fromEntries(
    Object.entries(grant.bind ?? {}).map(([id, b]) => [id, [b.provider, b.consumer, b.dataset]]),
  );
  const token = await signJws(
    signer,
    { typ: ACCESS_TOKEN_TYPE },
    {
      iss: settings.issuer,
      aud: settings.audience,
      sub: grant.sub,
      client_id: grant.sub,
      scope: grant.scopes.join(" "),
      iat,
      exp,
      jti,
      ...(grant.generation ? { cgen: grant.generation } : {}),
      ...(Object.keys(bind).length > 0 ? { bind } : {}),
      ...cnfClaim(grant.cnf),
    },
  );
  return { token, jti, exp };
}

const COMPACT = /^[A-Za-z0-9_-]{2,2048}\.[A-Za-z0-9_-]{2,6144}\.[A-Za-z0-9_-]{86}$/;
const KID = /^[A-Za-z0-9_-]{1,64}$/;
const ALLOWED_HEADER = new Set(["alg", "typ", "kid"]);
/** An ES256 signature: r || s, 32 bytes each. */
const SIGNATURE_BYTES = 64;

/** The bytes of a base64url part, or null unless it is the one canonical spelling of them. */
function canonicalBytes(part: string): Buffer | null {
  const bytes = Buffer.from(part, "base64url");
  return bytes.toString("base64url") === part ? bytes : null;
}

function decodePart(part: string, what: string): Record<string, unknown> {
  const bytes = canonicalBytes(part);
  if (bytes === null)
    throw new InvalidTokenError(`the token ${what} is not canonical base64url`, "malformed");
  let value: unknown;
  try {
    value = parseStrictJson(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (err) {
    throw new InvalidTokenError(
      `the token ${what} is not valid JSON: ${(err as Error).message}`,
      "malformed",
    );
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new InvalidTokenError(`the token ${what} is not a JSON object`, "malformed");
  }
  return value as Record<string, unknown>;
}

interface Parsed {
  readonly kid: string;
  readonly payload: Record<string, unknown>;
  readonly signingInput: string;
  readonly signature: Buffer;
}

/** Checks done before any cryptography: shape, header allow-list, duplicates. */
function precheck(token: string): Parsed {
  if (token.length > MAX_TOKEN_CHARS || !COMPACT.test(token)) {
    throw new InvalidTokenError("the token is not a compact JWS", "malformed");
  }
  const [h = "", p = "", sig = ""] = token.split(".");
  const signature = canonicalBytes(sig);
  if (signature?.length !== SIGNATURE_BYTES) {
    throw new InvalidTokenError("the token signature is not an ES256 signature", "malformed");
  }
  const header = decodePart(h, "header");
  for (const name of Object.keys(header)) {
    if (!ALLOWED_HEADER.has(name))
      throw new InvalidTokenError(`the token header may not carry ${name}`, "header");
  }
  if (header.alg !== "ES256")
    throw new InvalidTokenError("the token algorithm is not allowed", "algorithm");
  if (header.typ !== ACCESS_TOKEN_TYPE)
    throw new InvalidTokenError("the token is not an access token", "typ");
  if (typeof header.kid !== "string" || !KID.test(header.kid)) {
    throw new InvalidTokenError("the token key id is not acceptable", "kid");
  }
  return {
    kid: header.kid,
    payload: decodePart(p, "claims"),
    signingInput: `${h}.${p}`,
    signature,
  };
}

interface CachedClaims {
  readonly claims: AccessClaims;
  /** max(iat, nbf): before this (minus leeway) a fresh verification refuses the token. */
  readonly notBefore: number;
}

export class TokenVerifier {
  /** Public keys by kid, imported once per process. */
  private readonly keys = new Map<string, KeyObject>();
  /** Keyed on the exact token string that was verified (see the file comment). */
  private readonly cache: LRUCache<string, CachedClaims>;

  constructor(
    private readonly settings: TokenSettings,
    publicJwks: readonly JWK[],
    cacheSize = 10_000,
  ) {
    // No keys: a function that holds no access-token key (events) refuses every token.
    this.cache = new LRUCache({ max: cacheSize });
    for (const jwk of publicJwks) {
      if (jwk.kty !== "EC" || jwk.crv !== "P-256" || typeof jwk.kid !== "string" || "d" in jwk) {
        throw new TypeError("TokenVerifier takes public P-256 keys with a kid");
      }
      this.keys.set(jwk.kid, createPublicKey({ key: jwk as JsonWebKey, format: "jwk" }));
    }
  }

  /**
   * Verifies a bearer token: only the access-token keys given here can have
   * signed it (a key of another purpose, even the gateway's, is refused). A token verified before is answered from a
   * bounded cache that never outlives the token's `exp`; status is not cached
   * here (the exchange reads it from the store every time).
   */
  async verify(token: string, now: Date): Promise<AccessClaims> {
    const cached = this.cache.get(token);
    const t = Math.floor(now.getTime() / 1000);
    if (cached !== undefined) {
      if (
        t < cached.claims.exp + CLOCK_TOLERANCE_SECONDS &&
        t >= cached.notBefore - CLOCK_TOLERANCE_SECONDS
      )
        return cached.claims;
      if (t >= cached.claims.exp + CLOCK_TOLERANCE_SECONDS) this.cache.delete(token);
    }
    const entry = await this.verifyFresh(token, now);
    // The check above answers by the gateway's clock; the TTL (positive: a
    // fresh verification refuses from exp + leeway on) drops the entry then
    // in any case, so no entry outlives its token.
    const ttlMs = (entry.claims.exp + CLOCK_TOLERANCE_SECONDS - t) * 1000;
    this.cache.set(token, entry, { ttl: Math.max(1, ttlMs) });
    return entry.claims;
  }

  /**
   * The signature is checked with the key named by `kid` (ES256 only, the
   * header was checked before), synchronously: cheaper than WebCrypto's
   * asynchronous job. Then every claim, as RFC 7519 and RFC 9068 ask.
   */
  private async verifyFresh(token: string, now: Date): Promise<CachedClaims> {
    const parsed = precheck(token);
    const key = this.keys.get(parsed.kid);
    if (key === undefined)
      throw new InvalidTokenError("the token was not signed by a gateway key", "kid");
    const valid = verifySignature(
      "sha256",
      Buffer.from(parsed.signingInput, "ascii"),
      { key, dsaEncoding: "ieee-p1363" },
      parsed.signature,
    );
    if (!valid) throw new InvalidTokenError("the token signature does not verify", "signature");
    const payload = parsed.payload;
    checkClaims(payload, this.settings, now);
    const claims = claimsOf(payload, this.settings.maxLifetimeSeconds);
    const nbf = typeof payload.nbf === "number" ? payload.nbf : claims.iat;
    return { claims, notBefore: Math.max(claims.iat, nbf) };
  }
}

const claimError = (claim: string) =>
  new InvalidTokenError(`the token claim ${claim} is not acceptable`, "claims");

/** Issuer, audience, and the times: exp (required), nbf (if present), iat (required, not ahead, not too old). */
function checkClaims(payload: Record<string, unknown>, settings: TokenSettings, now: Date): void {
  const t = Math.floor(now.getTime() / 1000);
  const tol = CLOCK_TOLERANCE_SECONDS;
  for (const name of ["exp", "iat", "sub", "jti"]) {
    if (!(name in payload))
      throw new InvalidTokenError(`the token claim ${name} is missing`, "claims");
  }
  if (payload.iss !== settings.issuer) throw claimError("iss");
  const aud = payload.aud;
  const audOk =
    typeof aud === "string"
      ? aud === settings.audience
      : Array.isArray(aud) && aud.includes(settings.audience);
  if (!audOk) throw claimError("aud");
  const { exp, iat, nbf } = payload;
  if (typeof exp !== "number" || !Number.isFinite(exp)) throw claimError("exp");
  if (t >= exp + tol) throw new InvalidTokenError("the token has expired", "expired");
  if (nbf !== undefined && (typeof nbf !== "number" || !Number.isFinite(nbf) || t < nbf - tol))
    throw claimError("nbf");
  if (typeof iat !== "number" || !Number.isFinite(iat)) throw claimError("iat");
  const age = t - iat;
  if (age < -tol || age - tol > settings.maxLifetimeSeconds) throw claimError("iat");
}

function claimsOf(payload: Record<string, unknown>, maxLifetime: number): AccessClaims {
  const { exp, iat, nbf, sub, jti, scope, cgen } = payload;
  if (
    typeof exp !== "number" ||
    !Number.isFinite(exp) ||
    typeof iat !== "number" ||
    !Number.isFinite(iat) ||
    (nbf !== undefined && (typeof nbf !== "number" || !Number.isFinite(nbf)))
  ) {
    throw new InvalidTokenError("the token times are not finite numbers", "claims");
  }
  if (exp - iat > maxLifetime || exp <= iat) {
    throw new InvalidTokenError("the token lifetime is not acceptable", "lifetime");
  }
  if (typeof sub !== "string" || sub === "" || typeof jti !== "string" || jti === "") {
    throw new InvalidTokenError("the token subject or id is missing", "claims");
  }
  if (scope !== undefined && typeof scope !== "string")
    throw new InvalidTokenError("the token scope is malformed", "claims");
  if (cgen !== undefined && !(Number.isSafeInteger(cgen) && (cgen as number) >= 0))
    throw new InvalidTokenError("the token credential generation is malformed", "claims");
  return {
    sub,
    jti,
    exp,
    iat,
    scopes: (scope ?? "").split(" ").filter((s) => s !== ""),
    bind: bindOf(payload.bind),
    generation: (cgen as number | undefined) ?? 0,
    ...confirmationOf(payload.cnf),
  };
}

const THUMBPRINT = /^[A-Za-z0-9_-]{43}$/;

function cnfClaim(cnf: Confirmation | undefined): Record<string, unknown> {
  if (cnf?.jkt === undefined && cnf?.x5t === undefined) return {};
  return {
    cnf: {
      ...(cnf.jkt === undefined ? {} : { jkt: cnf.jkt }),
      ...(cnf.x5t === undefined ? {} : { "x5t#S256": cnf.x5t }),
    },
  };
}

/**
 * The token's `cnf`. A confirmation the gateway cannot enforce (another
 * method, a malformed thumbprint) refuses the token: a binding is never
 * dropped.
 */
function confirmationOf(raw: unknown): { cnf?: Confirmation } {
  if (raw === undefined) return {};
  const malformed = () => new InvalidTokenError("the token confirmation is malformed", "claims");
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw malformed();
  const members = raw as Record<string, unknown>;
  const names = Object.keys(members);
  if (names.length === 0 || names.some((n) => n !== "jkt" && n !== "x5t#S256")) throw malformed();
  const jkt = members.jkt;
  const x5t = members["x5t#S256"];
  for (const v of [jkt, x5t])
    if (v !== undefined && (typeof v !== "string" || !THUMBPRINT.test(v))) throw malformed();
  return { cnf: { jkt: jkt as string | undefined, x5t: x5t as string | undefined } };
}

function bindOf(raw: unknown): Record<string, AgreementBinding> {
  const out: Record<string, AgreementBinding> = {};
  if (typeof raw !== "object" || raw === null) return out;
  for (const [id, v] of Object.entries(raw)) {
    if (!Array.isArray(v)) continue;
    const [provider, consumer, dataset] = v as unknown[];
    if (
      typeof provider === "string" &&
      typeof consumer === "string" &&
      typeof dataset === "string"
    ) {
      out[id] = { provider, consumer, dataset };
    }
  }
  return out;
}

/** Strict `Authorization: Bearer <token>` parsing: one space, no other scheme, no extras. */
export function bearerToken(header: string | undefined): string {
  const presented = presentedToken(header);
  if (presented.scheme !== "Bearer")
    throw new InvalidTokenError("the Authorization header is not a Bearer token", "scheme");
  return presented.token;
}

/**
 * Strict `Authorization: Bearer <token>` or `Authorization: DPoP <token>`
 * parsing (RFC 6750, RFC 9449 §7.1): one space, no other scheme, no extras.
 */
export function presentedToken(header: string | undefined): {
  scheme: "Bearer" | "DPoP";
  token: string;
} {
  if (header === undefined)
    throw new InvalidTokenError("an Authorization: Bearer (or DPoP) token is required", "missing");
  if (header.length > MAX_TOKEN_CHARS + 7)
    throw new InvalidTokenError("the Authorization header is too large", "size");
  const match = /^(Bearer|DPoP) ([A-Za-z0-9._-]+)$/.exec(header);
  if (match?.[2] === undefined)
    throw new InvalidTokenError("the Authorization header is not a Bearer or DPoP token", "scheme");
  return { scheme: match[1] === "DPoP" ? "DPoP" : "Bearer", token: match[2] };
}

/** The JWT the gateway presents to a partner backend: never valid as an access token. */
export async function issueGatewayToken(
  signer: Signer,
  issuer: string,
  claims: { aud: string; agreement: string; party: string; purpose: string | null; action: string },
  lifetimeSeconds: number,
  now: Date,
): Promise<{ token: string; exp: number }> {
  const iat = Math.floor(now.getTime() / 1000);
  const exp = iat + Math.min(300, lifetimeSeconds);
  const token = await signJws(
    signer,
    { typ: GATEWAY_TOKEN_TYPE },
    { iss: issuer, sub: issuer, iat, exp, jti: randomUUID(), ...claims },
  );
  return { token, exp };
}
