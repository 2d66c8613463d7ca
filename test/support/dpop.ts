/**
 * A DPoP client for tests: keys and proofs made with jose (independently of
 * the gateway's hand-written checks), with every claim open to override so
 * tests can make each kind of wrong proof.
 */
import { createHash, randomUUID } from "node:crypto";
import {
  type CryptoKey,
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  type JWK,
  SignJWT,
} from "jose";

export interface DpopKey {
  readonly alg: string;
  readonly privateKey: CryptoKey;
  readonly jwk: JWK;
  /** RFC 7638 thumbprint: what `cnf.jkt` of a token bound to this key holds. */
  readonly jkt: string;
}

export async function dpopKey(alg = "ES256"): Promise<DpopKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(publicKey);
  return { alg, privateKey, jwk, jkt: await calculateJwkThumbprint(jwk) };
}

export const ath = (token: string) => createHash("sha256").update(token).digest("base64url");

export interface ProofOptions {
  readonly htm: string;
  readonly htu: string;
  /** The access token the proof goes with (sets `ath`). */
  readonly token?: string;
  /** Seconds since the epoch; default: now. */
  readonly iat?: number;
  readonly jti?: string;
  readonly nonce?: string;
  /** Claims to add, replace, or (undefined) remove. */
  readonly claims?: Record<string, unknown>;
  /** Header members to add or replace. */
  readonly header?: Record<string, unknown>;
}

export async function proof(key: DpopKey, o: ProofOptions): Promise<string> {
  const claims: Record<string, unknown> = {
    htm: o.htm,
    htu: o.htu,
    iat: o.iat ?? Math.floor(Date.now() / 1000),
    jti: o.jti ?? randomUUID(),
    ...(o.token === undefined ? {} : { ath: ath(o.token) }),
    ...(o.nonce === undefined ? {} : { nonce: o.nonce }),
    ...o.claims,
  };
  for (const [k, v] of Object.entries(claims)) if (v === undefined) delete claims[k];
  return new SignJWT(claims)
    .setProtectedHeader({ alg: key.alg, typ: "dpop+jwt", jwk: key.jwk, ...o.header })
    .sign(key.privateKey);
}

/** The claims of a JWT, unverified (what the test reads back from a token it was given). */
export const claimsOf = (jwt: string): Record<string, unknown> =>
  JSON.parse(Buffer.from(jwt.split(".")[1] ?? "", "base64url").toString("utf8"));
