/**
 * Writing a transfer body to S3 as a stream: a multipart upload
 * (`@aws-sdk/lib-storage`), parts of `partSize`, two in flight. Apart from
 * s3-storage.ts so that only the functions that write bodies (the worker,
 * the local server) carry the uploader: the transfers function's bundle
 * must stay under 1 MiB.
 */
import type { Readable } from "node:stream";
import type { S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { StoreUnavailableError } from "../errors.ts";

export interface WriteTarget {
  readonly client: S3Client;
  readonly bucket: string;
  readonly partSize: number;
}

export type BodyWriter = (
  target: WriteTarget,
  key: string,
  body: Readable,
  contentType: string,
) => Promise<void>;

/** Streams `body` to `key`; the body's own failure is the answer, else a store fault. */
export const multipartWrite: BodyWriter = async (target, key, body, contentType) => {
  const upload = new Upload({
    client: target.client,
    params: { Bucket: target.bucket, Key: key, Body: body, ContentType: contentType },
    partSize: target.partSize,
    queueSize: 2,
    leavePartsOnError: false,
  });
  let bodyError: unknown;
  body.once("error", (e) => {
    bodyError ??= e;
  });
  try {
    await upload.done();
  } catch (cause) {
    // The body's own failure (a leak, a backend that hung up) is the answer, not a store fault.
    if (bodyError !== undefined) throw bodyError;
    throw new StoreUnavailableError("write the transfer body", cause);
  }
  if (bodyError !== undefined) throw bodyError;
};
