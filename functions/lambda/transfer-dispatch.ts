/**
 * The AWS transfer dispatcher: a job is handed to the transfer worker
 * Lambda as an asynchronous invocation (InvocationType "Event"). Lambda
 * queues it and answers 202 at once; it runs the job on the worker (15
 * minutes at most), retries a failed run and sends a job it gave up on to
 * the worker's on-failure queue (infra/constructs/transfer-jobs.ts). The
 * request only waits for the enqueue.
 */
import { InvokeCommand, type LambdaClient } from "@aws-sdk/client-lambda";
import { StoreUnavailableError } from "../errors.ts";
import type { TransferDispatcher, TransferJob } from "../transfers/dispatch.ts";

export class LambdaTransferDispatcher implements TransferDispatcher {
  constructor(
    private readonly client: LambdaClient,
    /** The worker's live alias ARN (TRANSFER_WORKER_FUNCTION). */
    private readonly functionName: string,
  ) {}

  async dispatch(job: TransferJob): Promise<void> {
    let status: number | undefined;
    try {
      const out = await this.client.send(
        new InvokeCommand({
          FunctionName: this.functionName,
          InvocationType: "Event",
          Payload: new TextEncoder().encode(JSON.stringify(job)),
        }),
      );
      status = out.StatusCode;
    } catch (cause) {
      throw new StoreUnavailableError("start the transfer job", cause);
    }
    // 202: queued. Anything else means Lambda did not take the job.
    if (status !== 202)
      throw new StoreUnavailableError("start the transfer job", new Error(`status ${status}`));
  }
}
