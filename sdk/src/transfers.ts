/**
 * Large transfers, as the contract's "Large transfers" section shapes them:
 * a read transfer the consumer starts, an upload the provider makes, and
 * the transfer's state until its body is ready at a short-lived URL.
 */

export type TransferState =
  | "awaiting_upload"
  | "running"
  | "ready"
  | "blocked"
  | "failed"
  | "revoked"
  | "expired";

export interface Transfer {
  readonly id: string;
  readonly agreement: string;
  readonly direction: "read" | "deliver";
  readonly state: TransferState;
  readonly createdAt: string;
  readonly records?: number | null;
  readonly bytes?: number | null;
  readonly sha256?: string | null;
  readonly contentType?: string | null;
  /** A GET URL of the cut body (consumer only, `ready` only), valid for at most 300 s. */
  readonly url?: string | null;
  readonly expiresAt?: string | null;
  /** Why it ended `blocked` or `failed` (`leak_blocked`, `quota_exceeded`, ...). */
  readonly code?: string | null;
}

/** What `POST /v1/uploads` answers: where to PUT the body, and with which headers. */
export interface Upload extends Transfer {
  readonly uploadUrl: string;
  readonly expiresAt: string;
  readonly headers: Readonly<Record<string, string>>;
}

export type UploadContentType = "application/x-ndjson" | "text/csv" | "application/json";

/** The states a transfer does not leave. */
export const FINAL_STATES: ReadonlySet<TransferState> = new Set([
  "ready",
  "blocked",
  "failed",
  "revoked",
  "expired",
]);
