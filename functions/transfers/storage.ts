/**
 * Where transfer bodies live, as the transfers see it: keys chosen by the
 * gateway, bodies written as streams, URLs presigned. The S3 implementation
 * is functions/transfers/s3-storage.ts (kept apart so that what does not
 * move transfer bodies does not bundle the S3 upload and presigning code).
 */
import type { Readable } from "node:stream";
import { StoreUnavailableError } from "../errors.ts";

export interface PresignedPut {
  readonly url: string;
  /** The headers the PUT must carry (they are signed). */
  readonly headers: Readonly<Record<string, string>>;
}

export interface StoredBody {
  readonly body: Readable;
  readonly size: number;
  readonly contentType: string | undefined;
}

export interface TransferStorage {
  /** Writes a stream to `key` (multipart); rejects with the stream's own error if it fails. */
  write(key: string, body: Readable, contentType: string): Promise<void>;
  /** The object as a stream with its size, or undefined when there is none. */
  open(key: string): Promise<StoredBody | undefined>;
  /** Whether an object is stored under `key`. */
  has(key: string): Promise<boolean>;
  copy(from: string, to: string): Promise<void>;
  /** Deletes every object under `prefix` (deleting nothing is not an error). */
  deleteAll(prefix: string): Promise<void>;
  /** A GET URL of `key` valid for `expiresIn` seconds from `at`. */
  presignGet(key: string, expiresIn: number, at: Date): Promise<string>;
  /** A PUT URL of `key` for a body of `contentType`, valid for `expiresIn` seconds from `at`. */
  presignPut(key: string, contentType: string, expiresIn: number, at: Date): Promise<PresignedPut>;
}

/** Where no bucket was given: every call fails as a store fault (nothing is released). */
export const NO_TRANSFER_STORAGE: TransferStorage = {
  write: async () => unavailable("write the transfer body"),
  open: async () => unavailable("read the transfer body"),
  has: async () => unavailable("look for the transfer body"),
  copy: async () => unavailable("copy the transfer body"),
  deleteAll: async () => unavailable("delete the transfer bodies"),
  presignGet: async () => unavailable("sign the transfer URL"),
  presignPut: async () => unavailable("sign the upload URL"),
};

function unavailable(operation: string): never {
  throw new StoreUnavailableError(operation, new Error("the gateway has no transfer storage"));
}
