/** The figures and rules transfers share (routes, worker, revocation). */

/** How long one run holds a transfer: longer than the worker Lambda's 15 minutes. */
export const TRANSFER_LEASE_MS = 16 * 60_000;
/** Runs started before a transfer fails (`transfer_interrupted`). */
export const MAX_TRANSFER_ATTEMPTS = 3;
/** The default cap of a transfer's decoded body (`TRANSFER_MAX_BYTES`). */
export const DEFAULT_TRANSFER_MAX_BYTES = 5 * 1024 ** 3;
/** A ready body is served for this long. */
export const BODY_LIFETIME_MS = 24 * 3600_000;

/** Denial codes that mean a party or the agreement stopped being active: the transfer is revoked. */
export const REVOKING_CODES: ReadonlySet<string> = new Set([
  "agreement_not_found",
  "partner_revoked",
  "partner_suspended",
  "partner_offboarded",
  "agreement_inactive",
  "agreement_expired",
]);
