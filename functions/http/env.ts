/** Hono environment shared by every sub-app. */
import type { VerifiedProof } from "../auth/dpop.ts";
import type { AccessClaims } from "../auth/tokens.ts";

export interface AppEnv {
  Variables: {
    /** The gateway's own id of this request. */
    requestId: string;
    /** The caller's X-Request-Id, if well-formed: its correlation id, for the logs only. */
    callerRequestId?: string;
    claims: AccessClaims;
    /** A DPoP proof verified but not yet claimed: the route claims its jti (the exchange). */
    dpopProof?: VerifiedProof;
  };
  Bindings: {
    /** The raw request target as received (adapters set it; URL parsing normalises it away). */
    rawTarget?: string;
  };
}
