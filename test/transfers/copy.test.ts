/**
 * The release copy (staging → body) of any size. Below the threshold one
 * CopyObject, run against s3rver. Above it a multipart copy (UploadPartCopy
 * of byte ranges): s3rver 3.7 implements no UploadPartCopy (it answers
 * NotImplemented, and no AbortMultipartUpload either), so against s3rver only
 * the failure is real (nothing is left under the target key); the calls the
 * multipart path makes are checked against the SDK with aws-sdk-client-mock
 * (call shapes only: ranges, part numbers, completion, abort on a fault).
 */
import { randomUUID } from "node:crypto";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCopyCommand,
} from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { describe, expect, it } from "vitest";
import { StoreUnavailableError } from "../../functions/errors.ts";
import { ensureBucket, localS3Client } from "../../functions/store/objects.ts";
import { copyObject } from "../../functions/transfers/s3-copy.ts";
import { S3TransferStorage } from "../../functions/transfers/s3-storage.ts";
import { s3Endpoint } from "../support/gateway.ts";

async function bucketWith(key: string, body: Buffer) {
  const s3 = localS3Client(s3Endpoint());
  const bucket = `c-${randomUUID().slice(0, 8)}`;
  await ensureBucket(s3, bucket);
  await s3.send(
    new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: "text/csv" }),
  );
  return { s3, bucket };
}

describe("the release copy against s3rver", () => {
  it("copies a body up to the threshold whole, with its content type", async () => {
    const body = Buffer.from("a,b\n1,2\n".repeat(10_000));
    const { s3, bucket } = await bucketWith("transfers/t/staging-1", body);
    const storage = new S3TransferStorage(s3, bucket, { copy: { singleMaxBytes: body.length } });
    await storage.copy("transfers/t/staging-1", "transfers/t/body-1");
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "transfers/t/body-1" }));
    expect(out.ContentType).toBe("text/csv");
    expect(Buffer.from(await (out.Body?.transformToByteArray() ?? []))).toEqual(body);
  });

  it("above the threshold copies in parts, which s3rver refuses: a store fault, no object left", async () => {
    const body = Buffer.alloc(64 * 1024, 7);
    const { s3, bucket } = await bucketWith("transfers/t/staging-1", body);
    const storage = new S3TransferStorage(s3, bucket, {
      copy: { singleMaxBytes: 1024, partBytes: 16 * 1024 },
    });
    const failed = await storage.copy("transfers/t/staging-1", "transfers/t/body-1").then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failed).toBeInstanceOf(StoreUnavailableError);
    expect(String((failed as Error).cause)).toMatch(/not implemented/i);
    expect(await storage.has("transfers/t/body-1")).toBe(false);
    expect(await storage.has("transfers/t/staging-1")).toBe(true);
  });
});

describe("the multipart copy's calls (aws-sdk-client-mock)", () => {
  const MiB = 1024 * 1024;
  const SIZE = 12 * MiB + 5;

  function s3Mock(size: number) {
    const client = new S3Client({ region: "us-east-1" });
    const mock = mockClient(client);
    mock.on(HeadObjectCommand).resolves({ ContentLength: size, ContentType: "text/csv" });
    mock.on(CreateMultipartUploadCommand).resolves({ UploadId: "up-1" });
    mock.on(UploadPartCopyCommand).callsFake(async (input: { PartNumber: number }) => ({
      CopyPartResult: { ETag: `"etag-${input.PartNumber}"` },
    }));
    mock.on(CompleteMultipartUploadCommand).resolves({});
    mock.on(AbortMultipartUploadCommand).resolves({});
    mock.on(CopyObjectCommand).resolves({});
    return { client, mock };
  }

  const options = { singleMaxBytes: 5 * MiB, partBytes: 5 * MiB, concurrency: 2 };

  it("copies each byte range once as a numbered part and completes with the parts in order", async () => {
    const { client, mock } = s3Mock(SIZE);
    await copyObject(client, "b", "transfers/t/staging-2", "transfers/t/body-2", options);
    expect(mock.commandCalls(CopyObjectCommand)).toHaveLength(0);
    expect(mock.commandCalls(CreateMultipartUploadCommand)[0]?.args[0].input).toEqual({
      Bucket: "b",
      Key: "transfers/t/body-2",
      ContentType: "text/csv",
    });
    const parts = mock
      .commandCalls(UploadPartCopyCommand)
      .map((c) => c.args[0].input)
      .sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
    expect(parts).toEqual(
      [
        [1, `bytes=0-${5 * MiB - 1}`],
        [2, `bytes=${5 * MiB}-${10 * MiB - 1}`],
        [3, `bytes=${10 * MiB}-${SIZE - 1}`],
      ].map(([PartNumber, CopySourceRange]) => ({
        Bucket: "b",
        Key: "transfers/t/body-2",
        UploadId: "up-1",
        CopySource: "b/transfers/t/staging-2",
        PartNumber,
        CopySourceRange,
      })),
    );
    expect(mock.commandCalls(CompleteMultipartUploadCommand)[0]?.args[0].input).toEqual({
      Bucket: "b",
      Key: "transfers/t/body-2",
      UploadId: "up-1",
      MultipartUpload: {
        Parts: [1, 2, 3].map((n) => ({ PartNumber: n, ETag: `"etag-${n}"` })),
      },
    });
    expect(mock.commandCalls(AbortMultipartUploadCommand)).toHaveLength(0);
  });

  it("copies a body at the threshold with one CopyObject", async () => {
    const { client, mock } = s3Mock(5 * MiB);
    await copyObject(client, "b", "transfers/t/staging-1", "transfers/t/body-1", options);
    expect(mock.commandCalls(CopyObjectCommand)[0]?.args[0].input).toEqual({
      Bucket: "b",
      Key: "transfers/t/body-1",
      CopySource: "b/transfers/t/staging-1",
    });
    expect(mock.commandCalls(CreateMultipartUploadCommand)).toHaveLength(0);
  });

  it("aborts the upload when a part fails, completes nothing, and answers a store fault", async () => {
    const { client, mock } = s3Mock(SIZE);
    mock
      .on(UploadPartCopyCommand, { PartNumber: 2 })
      .rejects(Object.assign(new Error("slow down"), { name: "SlowDown" }));
    const failed = await copyObject(client, "b", "s", "d", options).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failed).toBeInstanceOf(StoreUnavailableError);
    expect(mock.commandCalls(CompleteMultipartUploadCommand)).toHaveLength(0);
    expect(mock.commandCalls(AbortMultipartUploadCommand)[0]?.args[0].input).toEqual({
      Bucket: "b",
      Key: "d",
      UploadId: "up-1",
    });
  });

  it("aborts the upload when the completion fails", async () => {
    const { client, mock } = s3Mock(SIZE);
    mock.on(CompleteMultipartUploadCommand).rejects(new Error("internal error"));
    await expect(copyObject(client, "b", "s", "d", options)).rejects.toBeInstanceOf(
      StoreUnavailableError,
    );
    expect(mock.commandCalls(AbortMultipartUploadCommand)).toHaveLength(1);
  });
});
