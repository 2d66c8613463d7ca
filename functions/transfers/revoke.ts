/**
 * Revocation from the status-change path: when an event says a party or an
 * agreement stopped being active (suspended, revoked, terminated), every
 * transfer of the agreements concerned that may still hold a body is marked
 * `revoked` and its objects deleted. It runs where the event is fanned out
 * (the outbox stream in AWS, the local worker's pass every half second), so
 * within seconds of the change and whether or not anyone asks; never a scan:
 * the agreements' transfer listings are read by key.
 */
import type { Gateway } from "../gateway.ts";
import type { EventType, GatewayEvent } from "../store/outbox.ts";
import { TransferStore } from "../store/transfers.ts";
import { transferPrefix } from "./keys.ts";
import { NO_TRANSFER_STORAGE } from "./storage.ts";

/** The events that end a flow, and the code its transfers are revoked with. */
const ENDING: Partial<Record<EventType, string>> = {
  "partner.suspended": "partner_suspended",
  "partner.revoked": "partner_revoked",
  "agreement.suspended": "agreement_inactive",
  "agreement.terminated": "agreement_inactive",
};

export type RevocationDeps = Pick<Gateway, "db" | "registry" | "clock" | "transferStorage" | "log">;

/** Revokes the transfers an event ends; answers how many it looked at. */
export async function revokeTransfersFor(gw: RevocationDeps, event: GatewayEvent): Promise<number> {
  const code = ENDING[event.type];
  // A deployment without transfer storage has no transfer bodies to delete.
  if (code === undefined || gw.transferStorage === NO_TRANSFER_STORAGE) return 0;
  const agreements =
    event.subject.kind === "agreement"
      ? [event.subject.id]
      : (await gw.registry.allAgreements(event.subject.id)).map((a) => a.id);
  const store = new TransferStore(gw.db);
  let n = 0;
  for (const agreement of agreements) {
    for (const t of await store.openOf(agreement)) {
      await revokeTransfer(gw, store, t.id, code);
      n++;
    }
  }
  return n;
}

/**
 * Marks a transfer revoked (unless it ended already) and deletes its
 * objects; the deletion runs whether or not this call changed the state, so
 * a retry after a failed deletion finishes it.
 */
export async function revokeTransfer(
  gw: Pick<Gateway, "clock" | "transferStorage" | "log">,
  store: TransferStore,
  id: string,
  code: string,
): Promise<void> {
  const now = gw.clock().toISOString();
  const r = await store.update(id, (t) =>
    t.state === "awaiting_upload" || t.state === "running" || t.state === "ready"
      ? { ...t, state: "revoked", code, leaseUntil: null, updatedAt: now }
      : undefined,
  );
  if (r?.changed === true) gw.log.info("transfer_revoked", { transfer: id, code });
  await gw.transferStorage.deleteAll(transferPrefix(id));
}
