/**
 * DPoP proofs for the gateway's resources (RFC 9449 §4, §7): one fresh proof
 * per request (and per retry), signed with the partner's key, naming the
 * method, the URL without query, the access token's hash (`ath`) and, once
 * the gateway gave one, its nonce (§8, §9). The token endpoint's proofs are
 * oauth4webapi's (tokens.ts), with the same key.
 */
import { type CryptoKey, exportJWK, type JWK, SignJWT } from "jose";
import type { CryptoKeyPair } from "oauth4webapi";

/** A WebCrypto key pair (e.g. from `crypto.subtle.generateKey`) for DPoP proofs. */
export type DpopKeyPair = CryptoKeyPair;

/** The JWS algorithm of a WebCrypto key pair, as the gateway takes them. */
export function dpopAlgorithm(key: CryptoKey): "ES256" | "ES384" | "EdDSA" | "PS256" | "RS256" {
  const algorithm = key.algorithm as { name: string; namedCurve?: string; hash?: { name: string } };
  if (algorithm.name === "ECDSA" && algorithm.namedCurve === "P-256") return "ES256";
  if (algorithm.name === "ECDSA" && algorithm.namedCurve === "P-384") return "ES384";
  if (algorithm.name === "Ed25519") return "EdDSA";
  if (algorithm.name === "RSA-PSS" && algorithm.hash?.name === "SHA-256") return "PS256";
  if (algorithm.name === "RSASSA-PKCS1-v1_5" && algorithm.hash?.name === "SHA-256") return "RS256";
  throw new TypeError(
    "dpopKey must be an ECDSA P-256 or P-384, Ed25519, or RSA (SHA-256) key pair",
  );
}

const base64url = (bytes: ArrayBuffer): string => Buffer.from(bytes).toString("base64url");

/** The challenge of an answer that asks for (another) nonce. */
export async function asksForNonce(response: Response): Promise<boolean> {
  if (response.headers.get("DPoP-Nonce") === null) return false;
  if (response.status === 401)
    return /^DPoP\b.*error="use_dpop_nonce"/.test(response.headers.get("WWW-Authenticate") ?? "");
  if (response.status !== 400) return false;
  try {
    return ((await response.clone().json()) as { error?: unknown }).error === "use_dpop_nonce";
  } catch {
    return false;
  }
}

export class DpopProver {
  readonly alg: ReturnType<typeof dpopAlgorithm>;
  private readonly jwk: Promise<JWK>;
  /** The last nonce each origin gave. */
  private readonly nonces = new Map<string, string>();

  constructor(private readonly keyPair: DpopKeyPair) {
    this.alg = dpopAlgorithm(keyPair.privateKey);
    this.jwk = exportJWK(keyPair.publicKey).then(
      ({ kty, crv, x, y, n, e }) =>
        Object.fromEntries(
          Object.entries({ kty, crv, x, y, n, e }).filter(([, v]) => v !== undefined),
        ) as JWK,
    );
  }

  /** A proof for `method` on `url` (its query and fragment are not part of htu). */
  async proof(method: string, url: string, accessToken?: string): Promise<string> {
    const target = new URL(url);
    const htu = `${target.origin}${target.pathname}`;
    const nonce = this.nonces.get(target.origin);
    const ath =
      accessToken === undefined
        ? undefined
        : base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(accessToken)));
    return new SignJWT({
      htm: method.toUpperCase(),
      htu,
      jti: crypto.randomUUID(),
      ...(ath === undefined ? {} : { ath }),
      ...(nonce === undefined ? {} : { nonce }),
    })
      .setProtectedHeader({ alg: this.alg, typ: "dpop+jwt", jwk: await this.jwk })
      .setIssuedAt()
      .sign(this.keyPair.privateKey);
  }

  /** Keeps the nonce an answer carries, for the next proofs to its origin. */
  remember(url: string, response: Response): void {
    const nonce = response.headers.get("DPoP-Nonce");
    if (nonce !== null && nonce !== "") this.nonces.set(new URL(url).origin, nonce);
  }
}
