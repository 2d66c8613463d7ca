/**
 * The people's OpenID provider as the gateway sees it: its discovery
 * document (fetched once, re-fetched after a failure) and its signing keys
 * (jose's remote JWKS: cached, re-fetched when an unknown `kid` appears).
 * A provider that cannot be reached is a 503, never an allow.
 */
import { createRemoteJWKSet, type JWTVerifyGetKey } from "jose";
import { GatewayError } from "../errors.ts";

/** The members of the discovery document the gateway uses. */
export interface ProviderMetadata {
  readonly issuer: string;
  readonly authorization_endpoint: string;
  readonly token_endpoint: string;
  readonly jwks_uri: string;
  readonly [member: string]: unknown;
}

/** 503: the people's OpenID provider did not answer as it must. */
export class IdentityProviderUnavailableError extends GatewayError {
  override readonly name = "IdentityProviderUnavailableError";
  constructor(what: string, cause?: unknown) {
    super("identity_provider_unavailable", `the sign-in provider could not ${what}`, {
      cause,
      headers: { "Retry-After": "5" },
    });
  }
}

const MAX_METADATA_BYTES = 64 * 1024;
const TIMEOUT_MS = 5000;

/** https, or http on a loopback host (the embedded provider). */
export function isAcceptableEndpoint(value: unknown): value is string {
  if (typeof value !== "string") return false;
  try {
    const url = new URL(value);
    if (url.protocol === "https:") return true;
    return url.protocol === "http:" && ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname);
  } catch {
    return false;
  }
}

export class PeopleProvider {
  private metadata: Promise<ProviderMetadata> | undefined;
  private jwks: JWTVerifyGetKey | undefined;

  constructor(readonly issuer: string) {}

  /** The discovery document, fetched on first use; a failed fetch is tried again next time. */
  discover(): Promise<ProviderMetadata> {
    this.metadata ??= this.fetchMetadata().catch((err: unknown) => {
      this.metadata = undefined;
      throw err;
    });
    return this.metadata;
  }

  /** The key resolver for the provider's tokens. */
  async keys(): Promise<JWTVerifyGetKey> {
    if (this.jwks !== undefined) return this.jwks;
    const { jwks_uri } = await this.discover();
    this.jwks = createRemoteJWKSet(new URL(jwks_uri), {
      timeoutDuration: TIMEOUT_MS,
      cooldownDuration: 30_000,
      cacheMaxAge: 10 * 60_000,
    });
    return this.jwks;
  }

  private async fetchMetadata(): Promise<ProviderMetadata> {
    const url = `${this.issuer}/.well-known/openid-configuration`;
    let text: string;
    try {
      const res = await fetch(url, {
        headers: { Accept: "application/json" },
        redirect: "error",
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
      if (res.status !== 200) throw new Error(`discovery answered ${res.status}`);
      text = await res.text();
    } catch (cause) {
      throw new IdentityProviderUnavailableError("be discovered", cause);
    }
    if (text.length > MAX_METADATA_BYTES)
      throw new IdentityProviderUnavailableError("be discovered: the document is too large");
    let doc: Record<string, unknown>;
    try {
      doc = JSON.parse(text) as Record<string, unknown>;
    } catch (cause) {
      throw new IdentityProviderUnavailableError("be discovered: the document is not JSON", cause);
    }
    // OpenID Connect Discovery §4.3: the issuer in the document must be the one asked for.
    if (doc.issuer !== this.issuer)
      throw new IdentityProviderUnavailableError(
        "be discovered: the document names another issuer",
      );
    for (const member of ["authorization_endpoint", "token_endpoint", "jwks_uri"]) {
      if (!isAcceptableEndpoint(doc[member]))
        throw new IdentityProviderUnavailableError(`be discovered: ${member} is not acceptable`);
    }
    return doc as ProviderMetadata;
  }
}
