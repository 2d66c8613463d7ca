/**
 * The object store for the functions that keep objects (the exchange's kept
 * replay bodies): their entries pass this to `provideObjectStore`. The other
 * functions' bundles carry no S3 client at all (the SDK is bundled: see
 * infra/bundling.ts).
 */
import { S3Client } from "@aws-sdk/client-s3";
import { S3ObjectStore } from "../store/objects.ts";
import type { ObjectStoreProvider } from "./runtime.ts";

const client = new S3Client({});

export const s3ObjectStore: ObjectStoreProvider = {
  client,
  open: (bucket) => new S3ObjectStore(client, bucket),
};
