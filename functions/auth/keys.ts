/**
 * The gateway's signing keys. Tokens are signed with the current key; the
 * JWKS publishes the current and, during a rotation, the previous one.
 */
import type { JWK } from "jose";
import type { Signer } from "./jws.ts";

export interface GatewayKeys {
  readonly signer: Signer;
  /** Public keys to publish and to verify with, current first. */
  readonly publicJwks: readonly JWK[];
}
