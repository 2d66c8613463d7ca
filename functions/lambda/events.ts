/**
 * Lambda entry point of the outbox deliveries, fed by the outbox table's
 * stream: every batch fans out new events and attempts the due deliveries.
 * A failure is thrown so that the stream retries the batch.
 */
import { processOutbox } from "../events/deliver.ts";
import { lazyGateway } from "./runtime.ts";

export { awsClients } from "./runtime.ts";

const gateway = lazyGateway();

export const handler = async (): Promise<{ events: number; attempts: number }> =>
  processOutbox(await gateway());
