/** Hono environment shared by every sub-app. */
import type { AccessClaims } from "../auth/tokens.ts";

export interface AppEnv {
  Variables: {
    /** The gateway's own id of this request. */
    requestId: string;
    /** The caller's X-Request-Id, if well-formed: its correlation id, for the logs only. */
    callerRequestId?: string;
    claims: AccessClaims;
  };
  Bindings: {
    /** The raw request target as received (adapters set it; URL parsing normalises it away). */
    rawTarget?: string;
  };
}
