/**
 * The gateway's object store: one bucket, keys chosen by the gateway (never
 * by a caller), bodies as bytes. S3 in AWS; locally an S3-compatible server
 * (s3rver) or any `S3_ENDPOINT`. Like `Db`, every call maps store faults to
 * StoreUnavailableError (never an allow), and a missing object is data
 * (`undefined`), not an error. Replayed exchange bodies live here today;
 * large transfers will too.
 */
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { StoreUnavailableError } from "../errors.ts";

export interface StoredObject {
  readonly key: string;
  readonly lastModified: Date;
  readonly size: number;
}

export interface ObjectStore {
  /** Writes (or overwrites) an object. */
  put(key: string, body: Uint8Array, operation: string): Promise<void>;
  /** The object's bytes, or undefined when there is no such object. */
  get(key: string, operation: string): Promise<Uint8Array | undefined>;
  /** Deletes an object; deleting one that does not exist is not an error. */
  delete(key: string, operation: string): Promise<void>;
  /** Every object under a prefix (paged through), oldest listing order as S3 gives it. */
  list(prefix: string, operation: string): Promise<StoredObject[]>;
}

export class S3ObjectStore implements ObjectStore {
  constructor(
    readonly client: S3Client,
    readonly bucket: string,
  ) {}

  async put(key: string, body: Uint8Array, operation: string): Promise<void> {
    await this.call(operation, () =>
      this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ContentType: "application/octet-stream",
        }),
      ),
    );
  }

  async get(key: string, operation: string): Promise<Uint8Array | undefined> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      if (out.Body === undefined) return new Uint8Array(0);
      return await out.Body.transformToByteArray();
    } catch (cause) {
      if (cause instanceof NoSuchKey || (cause as { name?: string }).name === "NoSuchKey")
        return undefined;
      throw new StoreUnavailableError(operation, cause);
    }
  }

  async delete(key: string, operation: string): Promise<void> {
    await this.call(operation, () =>
      this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key })),
    );
  }

  async list(prefix: string, operation: string): Promise<StoredObject[]> {
    const out: StoredObject[] = [];
    let token: string | undefined;
    do {
      const page = await this.call(operation, () =>
        this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: prefix,
            ContinuationToken: token,
          }),
        ),
      );
      for (const o of page.Contents ?? []) {
        if (o.Key === undefined) continue;
        out.push({ key: o.Key, lastModified: o.LastModified ?? new Date(0), size: o.Size ?? 0 });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return out;
  }

  private async call<T>(operation: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (cause) {
      throw new StoreUnavailableError(operation, cause);
    }
  }
}

/** Where no object store was given: every call fails as a store fault (nothing is kept, nothing released). */
export const NO_OBJECT_STORE: ObjectStore = {
  put: async (_key, _body, operation) => unavailable(operation),
  get: async (_key, operation) => unavailable(operation),
  delete: async (_key, operation) => unavailable(operation),
  list: async (_prefix, operation) => unavailable(operation),
};

function unavailable(operation: string): never {
  throw new StoreUnavailableError(operation, new Error("the gateway has no object store"));
}

/** An S3 client for a local S3-compatible endpoint (any credentials do; path-style addressing). */
export function localS3Client(endpoint: string): S3Client {
  return new S3Client({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
    forcePathStyle: true,
    maxAttempts: 3,
  });
}

/** Creates the bucket unless it exists (local stores only: in AWS the stack owns it). */
export async function ensureBucket(client: S3Client, bucket: string): Promise<void> {
  try {
    await client.send(new HeadBucketCommand({ Bucket: bucket }));
    return;
  } catch {
    // not there (or not readable yet): create it
  }
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (err) {
    const name = (err as { name?: string }).name;
    if (name !== "BucketAlreadyOwnedByYou" && name !== "BucketAlreadyExists") throw err;
  }
}
