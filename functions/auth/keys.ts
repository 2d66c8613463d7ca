/**
 * The gateway's signing keys, one per purpose: access tokens (`at+jwt`), the
 * gateway's own JWTs to partner backends (`gateway+jwt`) and counterparty
 * events (`gateway-event+jwt`). In AWS each purpose has its own KMS key, and
 * only the function that signs for a purpose may use its key, so the
 * exchange and events functions cannot mint access tokens; the verifier
 * accepts access tokens only under the access-token keys' ids. Locally one
 * key (`SIGNING_JWK`, or the key file) serves every purpose, and `typ` keeps
 * the purposes apart. The JWKS publishes every purpose's current key and,
 * during a rotation, the previous one.
 */
import type { JWK } from "jose";
import type { Signer } from "./jws.ts";

export const KEY_PURPOSES = ["accessToken", "backendToken", "event"] as const;
export type KeyPurpose = (typeof KEY_PURPOSES)[number];

export interface GatewayKeys {
  /** Signs access tokens. */
  readonly signer: Signer;
  /** Signs the JWTs the gateway presents to partner backends. */
  readonly backendSigner: Signer;
  /** Signs counterparty events. */
  readonly eventSigner: Signer;
  /** Public keys to publish (every purpose, current first), deduplicated by kid. */
  readonly publicJwks: readonly JWK[];
  /** The public keys access tokens may be signed with: the verifier accepts no other. */
  readonly accessTokenJwks: readonly JWK[];
}

/** A purpose this process holds no key for: it publishes nothing and cannot sign. */
export function absentSigner(purpose: KeyPurpose): Signer {
  return {
    kid: "",
    sign: async () => {
      throw new Error(`this function holds no ${purpose} signing key`);
    },
  };
}

/** Every distinct key once (by kid), in the order given. */
export function uniqueByKid(jwks: readonly JWK[]): JWK[] {
  const seen = new Set<string>();
  return jwks.filter((k) => {
    const kid = k.kid ?? "";
    if (seen.has(kid)) return false;
    seen.add(kid);
    return true;
  });
}
