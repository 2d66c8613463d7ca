/**
 * The object store for the functions that keep objects (the exchange's kept
 * replay bodies; transfer bodies in the transfers function, the transfer
 * worker and the events function): their entries pass this to
 * `provideObjectStore`. The other functions' bundles carry no S3 client at
 * all (the SDK is bundled: see infra/bundling.ts).
 */
import { S3Client } from "@aws-sdk/client-s3";
import { S3ObjectStore } from "../store/objects.ts";
import type { ObjectStoreProvider } from "./runtime.ts";

// Checksums only where S3 requires them: by default the SDK signs a CRC32
// of the body into presigned PUT URLs, which a plain `curl -T` cannot send.
const client = new S3Client({
  requestChecksumCalculation: "WHEN_REQUIRED",
  responseChecksumValidation: "WHEN_REQUIRED",
});

export const s3ObjectStore: ObjectStoreProvider = {
  client,
  open: (bucket) => new S3ObjectStore(client, bucket),
};
