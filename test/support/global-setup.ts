/**
 * Starts DynamoDB Local (in memory) and an S3-compatible object store (in a
 * temporary directory) once per test run and hands their endpoints to every
 * test file; each file then works in tables and buckets of its own.
 */
import type { TestProject } from "vitest/node";
import { startDynamoLocal } from "../../functions/local/dynamo-local.ts";
import { startS3Local } from "../../functions/local/s3-local.ts";

declare module "vitest" {
  export interface ProvidedContext {
    dynamoEndpoint: string;
    s3Endpoint: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const [store, objects] = await Promise.all([
    startDynamoLocal({ dbPath: null, timeoutMs: 60_000 }),
    startS3Local({ directory: null }),
  ]);
  project.provide("dynamoEndpoint", store.endpoint);
  project.provide("s3Endpoint", objects.endpoint);
  return async () => {
    await Promise.all([store.stop(), objects.stop()]);
  };
}
