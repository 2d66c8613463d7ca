/**
 * Who is asking for a token: HTTP Basic with a client secret (RFC 6749
 * §2.3.1, id and secret form-urlencoded inside Basic), or a signed client
 * assertion (RFC 7523 private_key_jwt) against the client's registered keys.
 */
import { createLocalJWKSet, decodeJwt, jwtVerify } from "jose";
import type { Gateway } from "../gateway.ts";
import type { ClientRecord } from "../store/credentials.ts";
import { OAuthError } from "./oauth-error.ts";

export const JWT_BEARER_ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const ASSERTION_ALGORITHMS = ["ES256", "ES384", "PS256", "RS256", "EdDSA"];
const MAX_ASSERTION_LIFETIME = 300;

const formDecode = (s: string): string => decodeURIComponent(s.replace(/\+/g, " "));

function parseBasic(header: string): { id: string; secret: string } {
  const m = /^Basic ([A-Za-z0-9+/]+={0,2})$/.exec(header);
  if (m?.[1] === undefined)
    throw new OAuthError(401, "invalid_client", "malformed Basic credentials", true);
  const decoded = Buffer.from(m[1], "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) throw new OAuthError(401, "invalid_client", "malformed Basic credentials", true);
  try {
    return {
      id: formDecode(decoded.slice(0, colon)),
      secret: formDecode(decoded.slice(colon + 1)),
    };
  } catch {
    throw new OAuthError(401, "invalid_client", "malformed Basic credentials", true);
  }
}

/** What client authentication reads: the clients, the clock and the issuer (assertions' audience). */
type ClientAuthDeps = Pick<Gateway, "credentials" | "secrets" | "clock" | "settings" | "log">;

/** Reads a client (the token endpoint reads more along: token-reads.ts). */
export type ClientReader = (id: string) => Promise<StoredClient | undefined>;
type StoredClient = { value: ClientRecord; rev: number };

export async function authenticateClient(
  gw: ClientAuthDeps,
  authorization: string | undefined,
  form: URLSearchParams,
  readClient: ClientReader = (id) => gw.credentials.get(id),
): Promise<ClientRecord> {
  const assertion = form.get("client_assertion");
  const hasBodySecret = form.has("client_secret");
  if (hasBodySecret)
    throw new OAuthError(400, "invalid_request", "send the client secret with HTTP Basic");
  if (authorization !== undefined && assertion !== null) {
    throw new OAuthError(400, "invalid_request", "use one client authentication method");
  }
  if (authorization !== undefined) {
    if (authorization.length > 4096)
      throw new OAuthError(401, "invalid_client", "credentials too large", true);
    const { id, secret } = parseBasic(authorization);
    const client = id.length <= 64 ? await readClient(id) : undefined;
    const check = await gw.secrets.verify(secret, client?.value.secretHash);
    if (!check.ok || client === undefined)
      throw new OAuthError(401, "invalid_client", "unknown client or wrong secret", true);
    if (check.upgrade !== undefined) await upgradeHash(gw, client, check.upgrade);
    // A body naming another client than the one authenticated is ambiguous: refused, not ignored.
    const formId = form.get("client_id");
    if (formId !== null && formId !== client.value.id)
      throw new OAuthError(400, "invalid_request", "client_id is not the authenticated client");
    return client.value;
  }
  if (assertion !== null) return authenticateAssertion(gw, assertion, form, readClient);
  throw new OAuthError(401, "invalid_client", "client authentication is required", true);
}

/**
 * Stores the keyed hash in place of an earlier kind, once. The client is
 * authenticated either way: a lost race (a rotation came first) or a store
 * failure here only leaves the old hash for the next time.
 */
async function upgradeHash(
  gw: ClientAuthDeps,
  client: StoredClient,
  secretHash: string,
): Promise<void> {
  try {
    await gw.credentials.upgradeHash(client.value, client.rev, secretHash);
  } catch (err) {
    gw.log.warn("client_secret_upgrade_failed", {
      client: client.value.id,
      message: err instanceof Error ? err.message : String(err),
    });
  }
}

async function authenticateAssertion(
  gw: ClientAuthDeps,
  assertion: string,
  form: URLSearchParams,
  readClient: ClientReader,
): Promise<ClientRecord> {
  if (form.get("client_assertion_type") !== JWT_BEARER_ASSERTION) {
    throw new OAuthError(400, "invalid_request", "client_assertion_type must be jwt-bearer");
  }
  let claimed: string;
  try {
    const claims = decodeJwt(assertion);
    if (typeof claims.iss !== "string" || claims.iss !== claims.sub)
      throw new Error("iss and sub differ");
    claimed = claims.iss;
  } catch {
    throw new OAuthError(401, "invalid_client", "the client assertion is malformed");
  }
  const formId = form.get("client_id");
  if (formId !== null && formId !== claimed)
    throw new OAuthError(401, "invalid_client", "client_id does not match");
  const client = claimed.length <= 64 ? await readClient(claimed) : undefined;
  const jwks = client?.value.jwks ?? [];
  if (client === undefined || jwks.length === 0) {
    throw new OAuthError(401, "invalid_client", "no keys are registered for this client");
  }
  const now = gw.clock();
  let exp: number;
  let iat: unknown;
  let jti: string;
  try {
    const { payload } = await jwtVerify(assertion, createLocalJWKSet({ keys: [...jwks] }), {
      algorithms: ASSERTION_ALGORITHMS,
      issuer: claimed,
      subject: claimed,
      audience: [gw.settings.issuer, `${gw.settings.issuer}/oauth/token`],
      requiredClaims: ["exp", "jti"],
      clockTolerance: 5,
      currentDate: now,
    });
    if (typeof payload.jti !== "string" || payload.jti === "" || payload.jti.length > 256)
      throw new Error("jti is not a string of at most 256 characters");
    exp = payload.exp as number;
    iat = payload.iat;
    jti = payload.jti;
  } catch {
    throw new OAuthError(401, "invalid_client", "the client assertion does not verify");
  }
  // An assertion is short-lived (RFC 7523 §3): at most 300 s from its issue, and from now.
  const issuedFor = typeof iat === "number" && Number.isFinite(iat) ? exp - iat : 0;
  if (
    !Number.isFinite(exp) ||
    issuedFor > MAX_ASSERTION_LIFETIME ||
    exp - now.getTime() / 1000 > MAX_ASSERTION_LIFETIME
  ) {
    throw new OAuthError(401, "invalid_client", "the client assertion lives too long");
  }
  if (!(await gw.credentials.rememberAssertion(claimed, jti, new Date(exp * 1000)))) {
    throw new OAuthError(401, "invalid_client", "the client assertion was used before");
  }
  return client.value;
}
