/**
 * The transfer parts of the transfers function's gateway in AWS: transfer
 * storage (transfer-storage.ts) and jobs started on the worker Lambda
 * (TRANSFER_WORKER_FUNCTION) through its Lambda client. Without the client
 * or the variable there is no dispatcher, and starting a transfer fails
 * closed.
 */
import type { GatewayExtras } from "./runtime.ts";
import { LambdaTransferDispatcher } from "./transfer-dispatch.ts";
import { transferStorageParts } from "./transfer-storage.ts";

export const transferParts: GatewayExtras = (env, clients) => ({
  ...transferStorageParts(env, clients),
  transferDispatcher:
    env.TRANSFER_WORKER_FUNCTION === undefined || clients.lambda === undefined
      ? undefined
      : new LambdaTransferDispatcher(clients.lambda, env.TRANSFER_WORKER_FUNCTION),
});
