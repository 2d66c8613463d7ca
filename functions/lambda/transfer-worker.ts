/**
 * Lambda entry point of the transfer worker. The dispatcher
 * (transfer-dispatch.ts) invokes it asynchronously, and Lambda hands it the
 * job as the event: `{ "transferId": "…" }`. It runs the job to its end
 * (functions/transfers/worker.ts) and answers how the transfer stands; the
 * gateway is built once per container, on the first job.
 *
 * A run that throws (the store failed) is retried by Lambda and, after its
 * retries, lands with its payload on the worker's failure queue (alarmed);
 * the transfer's lease also lets a later read start it again. An event that
 * is no job throws too: it is a bug, and the failure queue shows it.
 */
import * as z from "zod";
import { multipartWrite } from "../transfers/s3-upload.ts";
import { runTransferJob, type TransferJobResult } from "../transfers/worker.ts";
import { s3ObjectStore } from "./objects.ts";
import { instrument, lazyGateway, provideObjectStore } from "./runtime.ts";
import { storageParts } from "./transfer-storage.ts";

export { awsClients } from "./runtime.ts";

/** The job as the dispatcher sends it (functions/transfers/dispatch.ts, TransferJob). */
export const TransferJobEvent = z.object({ transferId: z.string().min(1).max(200) });

provideObjectStore(s3ObjectStore);
const gateway = lazyGateway(storageParts(multipartWrite));

export const handler = instrument(async (event: unknown): Promise<TransferJobResult> => {
  const job = TransferJobEvent.safeParse(event);
  if (!job.success) throw new Error(`not a transfer job: ${z.prettifyError(job.error)}`);
  return runTransferJob(await gateway(), { transferId: job.data.transferId });
});
