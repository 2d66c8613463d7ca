/**
 * Bundles as Lambda runs them, in this process: built with the CDK app's
 * esbuild options, imported after the environment a deployed function would
 * have (its tables, keys and stores local: DynamoDB Local, a private JWK and
 * pseudonym secret instead of KMS, the run's s3rver).
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import type { JWK } from "jose";
import type { S3ObjectStore } from "../../functions/store/objects.ts";
import {
  BUNDLE_OPTIONS,
  type FunctionName,
  LAMBDA_ENTRIES,
  PROJECT_ROOT,
} from "../../infra/bundling.ts";
import { dynamoEndpoint, ISSUER, s3Endpoint, type TestGateway } from "../support/gateway.ts";

/** Sets the environment of a deployed function on this process, for `t`'s tables. */
export function useLambdaEnvironment(t: TestGateway, jwk: JWK, objects: S3ObjectStore): void {
  const tables = t.gw.db.tables;
  Object.assign(process.env, {
    REGISTRY_TABLE: tables.registry,
    CREDENTIALS_TABLE: tables.credentials,
    METER_TABLE: tables.meter,
    AUDIT_TABLE: tables.audit,
    OUTBOX_TABLE: tables.outbox,
    ISSUER,
    SIGNING_JWK: JSON.stringify(jwk),
    PSEUDONYM_SECRET: Buffer.alloc(32, 7).toString("base64"),
    LOCAL_BACKENDS: "1",
    DYNAMODB_ENDPOINT: dynamoEndpoint(),
    // The SDK's own variable for a service's endpoint, as the contract's local section says.
    AWS_ENDPOINT_URL_S3: s3Endpoint(),
    OBJECTS_BUCKET: objects.bucket,
    AWS_REGION: "eu-north-1",
    // s3rver knows this one key id (it checks no signature); DynamoDB Local takes any.
    AWS_ACCESS_KEY_ID: "S3RVER",
    AWS_SECRET_ACCESS_KEY: "S3RVER",
    LOG_LEVEL: "error",
  });
}

/** Builds a function's bundle under .build/ and imports it (after useLambdaEnvironment). */
export async function importBundle<M>(name: FunctionName): Promise<M> {
  const outfile = join(
    PROJECT_ROOT,
    ".build",
    "test-lambda",
    String(process.pid),
    name,
    "index.mjs",
  );
  await mkdir(join(outfile, ".."), { recursive: true });
  await build({
    ...BUNDLE_OPTIONS,
    entryPoints: [LAMBDA_ENTRIES[name]],
    outfile,
    logLevel: "error",
  });
  return (await import(pathToFileURL(outfile).href)) as M;
}
