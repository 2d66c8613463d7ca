/**
 * What every function shares: clients built once per container, the gateway
 * built lazily on the first invocation (so importing the bundle does no I/O),
 * and the raw request target handed to the app.
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { KMSClient } from "@aws-sdk/client-kms";
import { S3Client } from "@aws-sdk/client-s3";
import type { Hono } from "hono";
import { handle } from "hono/aws-lambda";
import { kmsGatewayKeys, kmsPseudonymKeys } from "../auth/kms-keys.ts";
import { keysFromFile } from "../auth/local-keys.ts";
import { pseudonymKeysFromSecret } from "../auth/pseudonyms.ts";
import { createGateway, DEFAULT_SETTINGS, type Gateway } from "../gateway.ts";
import type { AppEnv } from "../http/env.ts";
import { createLogger } from "../log.ts";
import { peopleSettingsFromEnv } from "../people/settings.ts";
import { S3ObjectStore } from "../store/objects.ts";
import { type LambdaEnv, parseLambdaEnv, tableNamesOf } from "./env.ts";

export async function buildGateway(env: LambdaEnv): Promise<Gateway> {
  const dynamo = new DynamoDBClient(
    env.DYNAMODB_ENDPOINT === undefined ? {} : { endpoint: env.DYNAMODB_ENDPOINT },
  );
  const kms = (env.SIGNING_KEY_ID ?? env.PSEUDONYM_KEY_ID) ? new KMSClient({}) : undefined;
  const keys =
    env.SIGNING_KEY_ID !== undefined && kms !== undefined
      ? await kmsGatewayKeys(kms, env.SIGNING_KEY_ID, env.PREVIOUS_SIGNING_KEY_ID)
      : keysFromFile({ current: JSON.parse(env.SIGNING_JWK ?? "{}") });
  const pseudonyms =
    env.PSEUDONYM_KEY_ID !== undefined && kms !== undefined
      ? kmsPseudonymKeys(kms, env.PSEUDONYM_KEY_ID)
      : pseudonymKeysFromSecret(Buffer.from(env.PSEUDONYM_SECRET ?? "", "base64"));
  return createGateway({
    client: dynamo,
    tables: tableNamesOf(env),
    objects:
      env.OBJECTS_BUCKET === undefined
        ? undefined
        : new S3ObjectStore(new S3Client({}), env.OBJECTS_BUCKET),
    keys,
    pseudonyms,
    settings: {
      ...DEFAULT_SETTINGS,
      issuer: env.ISSUER,
      audience: env.AUDIENCE ?? env.ISSUER,
      tokenTtlSeconds: env.TOKEN_TTL_SECONDS,
      localBackends: env.LOCAL_BACKENDS === "1",
      upstreamTimeoutMs: env.UPSTREAM_TIMEOUT_MS,
      people: peopleSettingsFromEnv(env),
    },
    log: createLogger({ level: env.LOG_LEVEL, base: { stage: env.STAGE } }),
  });
}

/** The gateway of this container, built on first use; a failed build is tried again next time. */
export function lazyGateway(): () => Promise<Gateway> {
  let ready: Promise<Gateway> | undefined;
  return () => {
    ready ??= buildGateway(parseLambdaEnv(process.env)).catch((err: unknown) => {
      ready = undefined;
      throw err;
    });
    return ready;
  };
}

type LambdaHandler = ReturnType<typeof handle>;

/** A Lambda handler for an app built on the first invocation. */
export function lazyHandler(makeApp: (gw: Gateway) => Hono<AppEnv>): LambdaHandler {
  const gateway = lazyGateway();
  let handler: LambdaHandler | undefined;
  return (async (event: unknown, context: unknown) => {
    handler ??= handle(makeApp(await gateway()) as unknown as Hono);
    return handler(event as never, context as never);
  }) as LambdaHandler;
}
