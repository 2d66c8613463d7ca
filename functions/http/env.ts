/** Hono environment shared by every sub-app. */
import type { AccessClaims } from "../auth/tokens.ts";

export interface AppEnv {
  Variables: {
    requestId: string;
    claims: AccessClaims;
  };
  Bindings: {
    /** The raw request target as received (adapters set it; URL parsing normalises it away). */
    rawTarget?: string;
  };
}
