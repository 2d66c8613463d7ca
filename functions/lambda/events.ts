/**
 * Lambda entry point of the background work: fed by the outbox table's
 * stream, every batch fans out new events and attempts the due deliveries (a
 * failure is thrown so that the stream retries the batch); the minute tick
 * does the same for deliveries whose backoff expired, and anchors the audit
 * trail. A fanned-out event that ends a flow (a suspension, a revocation)
 * first revokes the flow's transfers and deletes their objects.
 */
import { processOutbox } from "../events/deliver.ts";
import { TICK_SOURCE } from "../events/tick.ts";
import { s3ObjectStore } from "./objects.ts";
import { instrument, lazyGateway, provideObjectStore } from "./runtime.ts";
import { transferStorageParts } from "./transfer-storage.ts";

export { awsClients } from "./runtime.ts";

// Transfer storage: a flow that stopped takes its transfers' objects with it.
provideObjectStore(s3ObjectStore);
const gateway = lazyGateway(transferStorageParts);

export const handler = instrument(
  async (
    event?: unknown,
  ): Promise<{ events: number; attempts: number; anchored?: number | null }> => {
    const gw = await gateway();
    const done = await processOutbox(gw);
    if ((event as { source?: unknown } | undefined)?.source !== TICK_SOURCE) return done;
    const anchor = await gw.audit.anchor();
    return { ...done, anchored: anchor?.seq ?? null };
  },
);
