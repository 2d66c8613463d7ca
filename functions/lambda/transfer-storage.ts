/**
 * Transfer storage for a function's gateway in AWS: transfer bodies in the
 * objects bucket (OBJECTS_BUCKET) through the container's S3 client. The
 * worker and the events function take only this (they start no jobs), so
 * their bundles carry no Lambda client; the transfers function adds the
 * dispatcher (transfer-parts.ts). A function whose entry provides no S3
 * client, or whose environment names no bucket, gets none and fails
 * transfers closed. Only the worker writes bodies: it passes the multipart
 * writer (s3-upload.ts), which the other bundles then do not carry.
 */
import { S3TransferStorage } from "../transfers/s3-storage.ts";
import type { BodyWriter } from "../transfers/s3-upload.ts";
import type { GatewayExtras } from "./runtime.ts";

/** Transfer storage that writes bodies with `write` (the worker's), or writes none. */
export const storageParts =
  (write?: BodyWriter): GatewayExtras =>
  (env, clients) => ({
    transferStorage:
      env.OBJECTS_BUCKET === undefined || clients.s3 === undefined
        ? undefined
        : new S3TransferStorage(clients.s3, env.OBJECTS_BUCKET, { write }),
  });

/** For the functions that read, presign and delete transfer objects but write no body. */
export const transferStorageParts: GatewayExtras = storageParts();
