/**
 * Where transfer bodies live: one bucket (the objects bucket), keys chosen by
 * the gateway. A body is written as a stream (multipart, `@aws-sdk/lib-storage`),
 * first under a staging key, and only copied to its final key once it was cut
 * whole and metered. URLs are presigned by `@aws-sdk/s3-request-presigner`,
 * never signed by hand.
 *
 * Locally the embedded S3-compatible server checks no signatures, so URLs
 * are presigned against the gateway's own `/local-objects` route instead
 * (`publicEndpoint`), which checks them by presigning the same request again
 * (functions/transfers/local-urls.ts) before it streams from or to the store.
 */
import { randomBytes } from "node:crypto";
import type { Readable } from "node:stream";
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  NotFound,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { StoreUnavailableError } from "../errors.ts";
import { type CopyOptions, copyObject, storeCall } from "./s3-copy.ts";
import type { BodyWriter } from "./s3-upload.ts";
import type { PresignedPut, StoredBody, TransferStorage } from "./storage.ts";

export interface S3TransferStorageOptions {
  /**
   * The base of the URLs handed out when it is not the store's own endpoint
   * (locally: the gateway's `/local-objects` route). @default the client's endpoint
   */
  readonly publicEndpoint?: string | undefined;
  /** The secret local URLs are signed with (with publicEndpoint only; the route checks it). */
  readonly localSecret?: string | undefined;
  /** Part size of multipart uploads. @default 8 MiB */
  readonly partSize?: number | undefined;
  /** How a staged body is copied to its final key (one CopyObject, or in parts above a size). */
  readonly copy?: CopyOptions | undefined;
  /**
   * How a body is written (`multipartWrite`, s3-upload.ts): only where bodies
   * are written (the worker, the local server), so that the other functions'
   * bundles carry no multipart uploader. @default none: writes are refused
   */
  readonly write?: BodyWriter | undefined;
}

export class S3TransferStorage implements TransferStorage {
  /** The client URLs are presigned with (the store's, or one aimed at publicEndpoint). */
  readonly signer: S3Client;
  private readonly partSize: number;
  private readonly copyOptions: CopyOptions;
  private readonly writeBody: BodyWriter | undefined;

  constructor(
    readonly client: S3Client,
    readonly bucket: string,
    options: S3TransferStorageOptions = {},
  ) {
    this.partSize = options.partSize ?? 8 * 1024 * 1024;
    this.copyOptions = options.copy ?? {};
    this.writeBody = options.write;
    this.signer =
      options.publicEndpoint === undefined
        ? client
        : presigningClient(
            options.publicEndpoint,
            options.localSecret ?? randomBytes(32).toString("base64url"),
          );
  }

  async write(key: string, body: Readable, contentType: string): Promise<void> {
    if (this.writeBody === undefined) {
      body.destroy();
      throw new StoreUnavailableError(
        "write the transfer body",
        new Error("this function's storage writes no transfer bodies"),
      );
    }
    await this.writeBody(
      { client: this.client, bucket: this.bucket, partSize: this.partSize },
      key,
      body,
      contentType,
    );
  }

  async open(key: string): Promise<StoredBody | undefined> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return {
        body: out.Body as Readable,
        size: out.ContentLength ?? 0,
        contentType: out.ContentType,
      };
    } catch (cause) {
      if (isMissing(cause)) return undefined;
      throw new StoreUnavailableError("read the transfer body", cause);
    }
  }

  async has(key: string): Promise<boolean> {
    // A listing, not a HeadObject: S3 answers a HeadObject on a missing key
    // with 403 unless the role may list the bucket without a prefix
    // condition, which ours may not; its listing under transfers/ says
    // "not there" plainly. The key itself sorts first under its own prefix.
    const page = await storeCall("look for the transfer body", () =>
      this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: key, MaxKeys: 1 })),
    );
    return page.Contents?.[0]?.Key === key;
  }

  copy(from: string, to: string): Promise<void> {
    return copyObject(this.client, this.bucket, from, to, this.copyOptions);
  }

  async deleteAll(prefix: string): Promise<void> {
    let token: string | undefined;
    do {
      const page = await storeCall("list the transfer bodies", () =>
        this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: prefix,
            ContinuationToken: token,
          }),
        ),
      );
      const keys = (page.Contents ?? []).flatMap((o) => (o.Key === undefined ? [] : [o.Key]));
      if (keys.length > 0) {
        const out = await storeCall("delete the transfer bodies", () =>
          this.client.send(
            new DeleteObjectsCommand({
              Bucket: this.bucket,
              Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true },
            }),
          ),
        );
        // S3 answers 200 and lists the keys it could not delete: a body that
        // must go is a fault (the revocation pass then tries again), never done.
        if ((out.Errors?.length ?? 0) > 0)
          throw new StoreUnavailableError(
            "delete the transfer bodies",
            new Error(`${out.Errors?.length} not deleted: ${out.Errors?.[0]?.Code ?? "unknown"}`),
          );
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  presignGet(key: string, expiresIn: number, at: Date): Promise<string> {
    return storeCall("sign the transfer URL", () =>
      getSignedUrl(this.signer, new GetObjectCommand({ Bucket: this.bucket, Key: key }), {
        expiresIn,
        signingDate: at,
      }),
    );
  }

  async presignPut(
    key: string,
    contentType: string,
    expiresIn: number,
    at: Date,
  ): Promise<PresignedPut> {
    const url = await storeCall("sign the upload URL", () =>
      getSignedUrl(
        this.signer,
        new PutObjectCommand({ Bucket: this.bucket, Key: key, ContentType: contentType }),
        // The content type is signed: a PUT with another one is refused.
        { expiresIn, signingDate: at, signableHeaders: new Set(["content-type"]) },
      ),
    );
    return { url, headers: { "Content-Type": contentType } };
  }
}

/**
 * A client that only presigns, for URLs under `endpoint`. It checksums only
 * when S3 requires it: by default the SDK signs a CRC32 of the (unknown) body
 * into PUT URLs, which a plain `curl -T` cannot match.
 */
export function presigningClient(endpoint: string, secret: string): S3Client {
  return new S3Client({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "gateway-local", secretAccessKey: secret },
    forcePathStyle: true,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

const isMissing = (cause: unknown): boolean =>
  cause instanceof NoSuchKey ||
  cause instanceof NotFound ||
  ["NoSuchKey", "NotFound"].includes((cause as { name?: string }).name ?? "");
