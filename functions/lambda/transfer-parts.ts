/**
 * The transfer parts of a function's gateway in AWS: transfer bodies in the
 * objects bucket (OBJECTS_BUCKET) through the container's S3 client, and
 * jobs started on the worker Lambda (TRANSFER_WORKER_FUNCTION) through its
 * Lambda client. A function whose entry provides neither client, or whose
 * environment names neither, gets neither, and fails transfers closed.
 */
import { S3TransferStorage } from "../transfers/s3-storage.ts";
import type { GatewayExtras } from "./runtime.ts";
import { LambdaTransferDispatcher } from "./transfer-dispatch.ts";

export const transferParts: GatewayExtras = (env, clients) => ({
  transferStorage:
    env.OBJECTS_BUCKET === undefined || clients.s3 === undefined
      ? undefined
      : new S3TransferStorage(clients.s3, env.OBJECTS_BUCKET),
  transferDispatcher:
    env.TRANSFER_WORKER_FUNCTION === undefined || clients.lambda === undefined
      ? undefined
      : new LambdaTransferDispatcher(clients.lambda, env.TRANSFER_WORKER_FUNCTION),
});
