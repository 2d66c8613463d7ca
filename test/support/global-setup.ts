/**
 * Starts DynamoDB Local once per test run (in memory) and hands its endpoint
 * to every test file; each file then works in tables of its own.
 */
import type { TestProject } from "vitest/node";
import { startDynamoLocal } from "../../functions/local/dynamo-local.ts";

declare module "vitest" {
  export interface ProvidedContext {
    dynamoEndpoint: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const store = await startDynamoLocal({ dbPath: null, timeoutMs: 60_000 });
  project.provide("dynamoEndpoint", store.endpoint);
  return () => store.stop();
}
