/**
 * A server-side copy of one object to another key of the same bucket, of any
 * size a transfer may have. S3's CopyObject copies at most 5 GB in one
 * request while a transfer's body may reach its cap (5 GiB by default), so a
 * source above `singleMaxBytes` is copied as a multipart upload whose parts
 * are copied server-side (UploadPartCopy with a byte range of the source),
 * then completed; a failure aborts the upload, leaving no object and no parts.
 *
 * s3rver (the local store) copies any size with CopyObject and implements no
 * UploadPartCopy, so the local gateway keeps to the single copy.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  type S3Client,
  UploadPartCopyCommand,
} from "@aws-sdk/client-s3";
import { StoreUnavailableError } from "../errors.ts";

export interface CopyOptions {
  /** Sources up to this size are copied in one CopyObject (S3 allows 5 GB). @default 1 GiB */
  readonly singleMaxBytes?: number | undefined;
  /** Bytes per copied part (S3: 5 MiB to 5 GiB, at most 10,000 parts). @default 512 MiB */
  readonly partBytes?: number | undefined;
  /** Parts copied at once. @default 4 */
  readonly concurrency?: number | undefined;
}

export const DEFAULT_SINGLE_COPY_MAX_BYTES = 1024 ** 3;
export const DEFAULT_COPY_PART_BYTES = 512 * 1024 ** 2;

/** Copies `from` to `to` in `bucket`; a store fault rejects with StoreUnavailableError. */
export async function copyObject(
  client: S3Client,
  bucket: string,
  from: string,
  to: string,
  options: CopyOptions = {},
): Promise<void> {
  const source = `${bucket}/${encodeURIComponent(from).replaceAll("%2F", "/")}`;
  const head = await storeCall("look for the transfer body", () =>
    client.send(new HeadObjectCommand({ Bucket: bucket, Key: from })),
  );
  const size = head.ContentLength ?? 0;
  if (size <= (options.singleMaxBytes ?? DEFAULT_SINGLE_COPY_MAX_BYTES)) {
    await storeCall("copy the transfer body", () =>
      client.send(new CopyObjectCommand({ Bucket: bucket, Key: to, CopySource: source })),
    );
    return;
  }
  const created = await storeCall("copy the transfer body", () =>
    client.send(
      // A part copy carries no metadata: the content type is the upload's own.
      new CreateMultipartUploadCommand({ Bucket: bucket, Key: to, ContentType: head.ContentType }),
    ),
  );
  const uploadId = created.UploadId;
  if (uploadId === undefined)
    throw new StoreUnavailableError("copy the transfer body", new Error("no upload id"));
  try {
    const parts = await copyParts(client, { Bucket: bucket, Key: to, UploadId: uploadId }, source, {
      size,
      partBytes: options.partBytes ?? DEFAULT_COPY_PART_BYTES,
      concurrency: options.concurrency ?? 4,
    });
    await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: to,
        UploadId: uploadId,
        MultipartUpload: { Parts: parts },
      }),
    );
  } catch (cause) {
    // Parts already copied would be stored (and billed) until aborted.
    await client
      .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: to, UploadId: uploadId }))
      .catch(() => undefined);
    throw new StoreUnavailableError("copy the transfer body", cause);
  }
}

interface CompletedPart {
  readonly PartNumber: number;
  readonly ETag: string;
}

/** Copies every range of the source as a part, `concurrency` at once; answers the parts in order. */
async function copyParts(
  client: S3Client,
  upload: { readonly Bucket: string; readonly Key: string; readonly UploadId: string },
  source: string,
  plan: { readonly size: number; readonly partBytes: number; readonly concurrency: number },
): Promise<CompletedPart[]> {
  const count = Math.ceil(plan.size / plan.partBytes);
  const parts: CompletedPart[] = new Array(count);
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const i = next++;
      const first = i * plan.partBytes;
      const last = Math.min(first + plan.partBytes, plan.size) - 1;
      const out = await client.send(
        new UploadPartCopyCommand({
          ...upload,
          PartNumber: i + 1,
          CopySource: source,
          CopySourceRange: `bytes=${first}-${last}`,
        }),
      );
      const etag = out.CopyPartResult?.ETag;
      if (etag === undefined) throw new Error(`part ${i + 1} was copied without an ETag`);
      parts[i] = { PartNumber: i + 1, ETag: etag };
    }
  };
  // A failed part stops the other lanes at their next part; all settle before
  // the caller aborts (a part still being copied could outlive the abort).
  const lanes = await Promise.allSettled(
    Array.from({ length: Math.min(plan.concurrency, count) }, () =>
      lane().catch((e: unknown) => {
        next = count;
        throw e;
      }),
    ),
  );
  const failure = lanes.find((l) => l.status === "rejected");
  if (failure !== undefined) throw failure.reason;
  return parts;
}

/** A store call whose failure is a store fault (nothing is released). */
export async function storeCall<T>(operation: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (cause) {
    throw new StoreUnavailableError(operation, cause);
  }
}
