/**
 * A transfer is metered once, by the run that staged it, before it becomes
 * `ready`, and the run keeps the receipt on the transfer at once. A run can
 * die after that (a crash, a store fault, a lost lease); the next run finds
 * the metering by the transfer's own claim and does not count it again. But
 * when the transfer then ends without becoming ready (a successor denied,
 * every attempt used), nothing was released, so the kept receipt is given
 * back.
 *
 * Giving back twice is harmless: the reversal is conditioned on the event
 * still being `metered`.
 */
import type { Agreement } from "../../policies/model.ts";
import type { Gateway } from "../gateway.ts";
import type { MeteringOutcome } from "../store/meter.ts";
import type { TransferMetering, TransferRecord } from "../store/transfers.ts";

/** The transfer's own Idempotency-Key claim (worker.ts meters under it). */
export const transferClaimKey = (transferId: string): string => `transfer:${transferId}`;
/** The fingerprint the transfer's metering is claimed under. */
export const TRANSFER_FINGERPRINT = "transfer";

/** The receipt of a metering, as a transfer keeps it. */
export const meteringOf = (
  outcome: Extract<MeteringOutcome, { kind: "metered" }>,
  counted: { readonly records: number; readonly bytes: number },
): TransferMetering => ({
  eventId: outcome.eventId,
  at: outcome.at.toISOString(),
  plan: outcome.plan,
  value: outcome.value,
  records: counted.records,
  bytes: counted.bytes,
});

/**
 * Reverses what `t` keeps as metered (nothing when it keeps nothing);
 * answers whether this call gave counts back. Store faults throw.
 */
export function unmeterTransfer(
  deps: Pick<Gateway, "meter" | "clock">,
  t: TransferRecord,
  agreement: Agreement,
): Promise<boolean> {
  const m = t.metered;
  if (m === undefined) return Promise.resolve(false);
  return deps.meter.reverse(
    {
      agreement,
      action: t.direction,
      requestKey: t.requestId,
      idempotencyKey: transferClaimKey(t.id),
      fingerprint: TRANSFER_FINGERPRINT,
      records: m.records,
      bytes: m.bytes,
      now: deps.clock(),
    },
    { eventId: m.eventId, at: new Date(m.at), plan: m.plan, value: m.value },
  );
}
