/**
 * `has(key)` of the S3 transfer storage: whether an upload is there, by a
 * listing of its key. In AWS a HeadObject on a missing key answers 403 to a
 * role that may not list the whole bucket (ours may list only under
 * `transfers/`), which would read as a store fault; a listing says "not
 * there" plainly. On the run's s3rver, and with a mocked client for what
 * only AWS answers. And `write`, which only the functions given a writer do.
 */
import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import {
  DeleteObjectsCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { beforeAll, describe, expect, it } from "vitest";
import { StoreUnavailableError } from "../../functions/errors.ts";
import { ensureBucket, localS3Client } from "../../functions/store/objects.ts";
import { uploadKey } from "../../functions/transfers/keys.ts";
import { S3TransferStorage } from "../../functions/transfers/s3-storage.ts";
import { multipartWrite } from "../../functions/transfers/s3-upload.ts";
import { s3Endpoint } from "../support/gateway.ts";

describe("S3TransferStorage.has", () => {
  const s3 = localS3Client(s3Endpoint());
  const bucket = `h-${randomUUID().slice(0, 8)}`;
  const storage = new S3TransferStorage(s3, bucket);
  const put = (key: string) =>
    s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: "x" }));

  beforeAll(() => ensureBucket(s3, bucket));

  it("finds an upload once it is there", async () => {
    const key = uploadKey("trf-has-1");
    expect(await storage.has(key)).toBe(false);
    await put(key);
    expect(await storage.has(key)).toBe(true);
  });

  it("answers for the key itself, not another key it is a prefix of", async () => {
    // S3 lists in key order, so the key itself comes first under its own prefix
    // (s3rver neither sorts nor truncates a listing of more than MaxKeys).
    const client = new S3Client({ region: "eu-north-1" });
    const key = uploadKey("trf-has-4");
    mockClient(client)
      .on(ListObjectsV2Command)
      .resolves({ KeyCount: 1, Contents: [{ Key: `${key}-older` }], IsTruncated: false });
    expect(await new S3TransferStorage(client, bucket).has(key)).toBe(false);
  });

  it("reads a missing key as missing where a HeadObject would be refused (403)", async () => {
    const client = new S3Client({ region: "eu-north-1" });
    const mock = mockClient(client);
    const denied = new S3ServiceException({
      name: "Forbidden",
      $fault: "client",
      $metadata: { httpStatusCode: 403 },
    });
    mock.on(HeadObjectCommand).rejects(denied);
    mock.on(ListObjectsV2Command).resolves({ KeyCount: 0 });
    const key = uploadKey("trf-has-2");
    expect(await new S3TransferStorage(client, bucket).has(key)).toBe(false);
    expect(mock.commandCalls(ListObjectsV2Command)[0]?.args[0].input).toEqual({
      Bucket: bucket,
      Prefix: key,
      MaxKeys: 1,
    });
    expect(mock.commandCalls(HeadObjectCommand)).toEqual([]);
  });

  it("fails closed when the listing fails", async () => {
    const client = new S3Client({ region: "eu-north-1" });
    mockClient(client).on(ListObjectsV2Command).rejects(new Error("socket hang up"));
    await expect(
      new S3TransferStorage(client, bucket).has(uploadKey("trf-has-3")),
    ).rejects.toBeInstanceOf(StoreUnavailableError);
  });
});

describe("S3TransferStorage.deleteAll", () => {
  it("a key S3 could not delete (200 with Errors) is a store fault, never done", async () => {
    const client = new S3Client({ region: "eu-north-1" });
    const mock = mockClient(client);
    mock
      .on(ListObjectsV2Command)
      .resolves({ Contents: [{ Key: "transfers/trf-d/body-1" }], IsTruncated: false });
    mock.on(DeleteObjectsCommand).resolves({
      Errors: [{ Key: "transfers/trf-d/body-1", Code: "AccessDenied", Message: "denied" }],
    });
    await expect(
      new S3TransferStorage(client, "b").deleteAll("transfers/trf-d/"),
    ).rejects.toBeInstanceOf(StoreUnavailableError);
    mock.on(DeleteObjectsCommand).resolves({});
    await expect(
      new S3TransferStorage(client, "b").deleteAll("transfers/trf-d/"),
    ).resolves.toBeUndefined();
  });
});

describe("S3TransferStorage.write", () => {
  const s3 = localS3Client(s3Endpoint());
  const bucket = `w-${randomUUID().slice(0, 8)}`;
  beforeAll(() => ensureBucket(s3, bucket));

  it("writes nothing where no writer was given (the functions that only presign, read and delete)", async () => {
    const body = Readable.from(["a,b\n1,2\n"]);
    await expect(
      new S3TransferStorage(s3, bucket).write("transfers/t/staging-1", body, "text/csv"),
    ).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(body.destroyed).toBe(true);
    expect(await new S3TransferStorage(s3, bucket).has("transfers/t/staging-1")).toBe(false);
  });

  it("streams the body with the multipart writer", async () => {
    const storage = new S3TransferStorage(s3, bucket, { write: multipartWrite });
    await storage.write("transfers/t/staging-2", Readable.from(["a,b\n1,2\n"]), "text/csv");
    const stored = await storage.open("transfers/t/staging-2");
    expect(stored?.contentType).toBe("text/csv");
    expect(Buffer.concat((await stored?.body.toArray()) ?? []).toString()).toBe("a,b\n1,2\n");
  });
});
