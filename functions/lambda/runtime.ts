/**
 * What every function shares: clients built once per container, the gateway
 * built lazily on the first invocation (so importing the bundle does no I/O),
 * and the raw request target handed to the app.
 *
 * The AWS SDK clients are built at module scope and exported by every entry
 * (`awsClients`): one client per service per container, and a handle through
 * which the test harness adds middleware that records every AWS call a
 * function makes (test/lambda/permissions.test.ts proves the IAM grants with
 * it). Constructing a client does no I/O; endpoints come from the standard
 * `AWS_ENDPOINT_URL_<SERVICE>` variables (or DYNAMODB_ENDPOINT) outside AWS.
 * The S3 client is added by the entries of functions that keep objects
 * (`provideObjectStore(s3ObjectStore)`, ./objects.ts), the Lambda client by
 * the one that starts transfer jobs (`provideLambdaClient`): the SDK is
 * bundled, and their parts of it would weigh on every other function's
 * bundle and init.
 */
import { randomUUID } from "node:crypto";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { KMSClient } from "@aws-sdk/client-kms";
import type { LambdaClient } from "@aws-sdk/client-lambda";
import type { S3Client } from "@aws-sdk/client-s3";
import type { Hono } from "hono";
import { handle } from "hono/aws-lambda";
import { type KmsKeyIds, kmsPseudonymKeys, kmsPurposeKeys } from "../auth/kms-keys.ts";
import { keysFromFile } from "../auth/local-keys.ts";
import { type PseudonymKeys, pseudonymKeysFromSecret } from "../auth/pseudonyms.ts";
import {
  type ClientSecrets,
  PEPPER_LABEL,
  pepperedSecrets,
  sameBytes,
  scryptSecrets,
} from "../auth/secrets.ts";
import { createGateway, DEFAULT_SETTINGS, type Gateway, type GatewayDeps } from "../gateway.ts";
import type { AppEnv } from "../http/env.ts";
import { peopleSettingsFromEnv } from "../people/settings.ts";
import type { ObjectStore } from "../store/objects.ts";
import { type LambdaEnv, parseLambdaEnv, tableNamesOf } from "./env.ts";
import {
  createPowertools,
  loadTracer,
  type Powertools,
  powertoolsLogger,
  powertoolsTelemetry,
  tracingOn,
} from "./powertools.ts";

export interface AwsClients {
  readonly dynamodb: DynamoDBClient;
  readonly kms: KMSClient;
  /** The object store's client: only in functions whose entry provides an object store. */
  s3?: S3Client;
  /** Starts transfer jobs on the worker: only in the function whose entry provides it (transfers). */
  lambda?: LambdaClient;
}

const dynamoEndpoint = process.env.DYNAMODB_ENDPOINT;
export const awsClients: AwsClients = {
  dynamodb: new DynamoDBClient(dynamoEndpoint ? { endpoint: dynamoEndpoint } : {}),
  kms: new KMSClient({}),
};

/** An S3 client and how to open the object store in a bucket on it (./objects.ts). */
export interface ObjectStoreProvider {
  readonly client: S3Client;
  open(bucket: string): ObjectStore;
}

/** How this function opens the object store in OBJECTS_BUCKET. */
let objectStoreIn: ((bucket: string) => ObjectStore) | undefined;

/** Gives this function an S3 client and the object store on it (its entry calls it once). */
export function provideObjectStore(provider: ObjectStoreProvider): void {
  awsClients.s3 = provider.client;
  tracer?.captureAWSv3Client(provider.client);
  objectStoreIn = (bucket) => provider.open(bucket);
}

/** Gives this function the Lambda client that starts transfer jobs (its entry calls it once). */
export function provideLambdaClient(client: LambdaClient): void {
  awsClients.lambda = client;
  tracer?.captureAWSv3Client(client);
}

/**
 * Powertools, once per container. When tracing is on, every DynamoDB, KMS,
 * S3 and Lambda call is an X-Ray subsegment; when it is off the X-Ray SDK is never
 * loaded (see powertools.ts).
 */
const logLevel = process.env.LOG_LEVEL;
const tracer = tracingOn() ? await loadTracer() : undefined;
export const powertools: Powertools = createPowertools(
  logLevel === "debug" || logLevel === "warn" || logLevel === "error" ? logLevel : "info",
  tracer,
);
if (tracer !== undefined) {
  tracer.captureAWSv3Client(awsClients.dynamodb);
  tracer.captureAWSv3Client(awsClients.kms);
}
const telemetry = powertoolsTelemetry(powertools);

/**
 * Every invocation: the Lambda context on every log line (request id, cold
 * start), the cold start on the trace, and the invocation's business
 * figures published when it ends.
 */
export function instrument<E, R>(
  handler: (event: E, context: unknown) => Promise<R>,
): (event: E, context: unknown) => Promise<R> {
  return async (event, context) => {
    if (context !== undefined && context !== null)
      powertools.logger.addContext(context as Parameters<typeof powertools.logger.addContext>[0]);
    if (tracer?.isTracingEnabled() === true) {
      tracer.annotateColdStart();
      tracer.addServiceNameAnnotation();
    }
    try {
      return await handler(event, context);
    } finally {
      telemetry.flush();
    }
  };
}

/**
 * What only some functions add to their gateway (transfer storage: the
 * transfers function, the worker and the events function; the dispatcher:
 * the transfers function), so that the others neither load nor hold them.
 */
export type GatewayExtras = (
  env: LambdaEnv,
  clients: AwsClients,
) => Pick<GatewayDeps, "transferStorage" | "transferDispatcher">;

export async function buildGateway(
  env: LambdaEnv,
  clients: AwsClients = awsClients,
  extras?: GatewayExtras,
): Promise<Gateway> {
  const dynamo = clients.dynamodb;
  const log = powertoolsLogger(powertools.logger, { stage: env.STAGE });
  const keys =
    env.SIGNING_JWK !== undefined
      ? keysFromFile({ current: JSON.parse(env.SIGNING_JWK) })
      : await kmsPurposeKeys(
          clients.kms,
          {
            accessToken: keyIds(env.ACCESS_TOKEN_KEY_ID, env.PREVIOUS_ACCESS_TOKEN_KEY_ID),
            backendToken: keyIds(env.BACKEND_TOKEN_KEY_ID, env.PREVIOUS_BACKEND_TOKEN_KEY_ID),
            event: keyIds(env.EVENT_KEY_ID, env.PREVIOUS_EVENT_KEY_ID),
          },
          { onThrottle: () => log.warn("kms_throttled") },
        );
  const pseudonyms: PseudonymKeys =
    env.PSEUDONYM_KEY_ID !== undefined
      ? kmsPseudonymKeys(clients.kms, env.PSEUDONYM_KEY_ID)
      : env.PSEUDONYM_SECRET !== undefined
        ? pseudonymKeysFromSecret(Buffer.from(env.PSEUDONYM_SECRET, "base64"))
        : noPseudonyms;
  // The client-secret pepper: one GenerateMac per container (on first use) in AWS, from the master secret locally.
  const clientSecretKeyId = env.CLIENT_SECRET_KEY_ID;
  const secrets: ClientSecrets =
    clientSecretKeyId !== undefined
      ? pepperedSecrets(() => kmsPseudonymKeys(clients.kms, clientSecretKeyId).derive(PEPPER_LABEL))
      : env.PSEUDONYM_SECRET !== undefined
        ? pepperedSecrets(() => pseudonyms.derive(PEPPER_LABEL))
        : scryptSecrets;
  return createGateway({
    client: dynamo,
    tables: tableNamesOf(env),
    objects: env.OBJECTS_BUCKET === undefined ? undefined : openObjectStore(env.OBJECTS_BUCKET),
    keys,
    pseudonyms,
    secrets,
    ...extras?.(env, clients),
    settings: {
      ...DEFAULT_SETTINGS,
      issuer: env.ISSUER,
      audience: env.AUDIENCE ?? env.ISSUER,
      tokenTtlSeconds: env.TOKEN_TTL_SECONDS,
      localBackends: env.LOCAL_BACKENDS === "1",
      upstreamTimeoutMs: env.UPSTREAM_TIMEOUT_MS,
      people: peopleSettingsFromEnv(env),
      dpopNonce: env.DPOP_NONCE === "1",
      mtlsDomain: env.MTLS_DOMAIN,
      transferMaxBytes: env.TRANSFER_MAX_BYTES,
    },
    log,
    telemetry,
  });
}

/**
 * The object store in `bucket`, for a function whose entry provides one; a
 * function that keeps no objects has none (whatever its environment says),
 * so anything there that asked for one would be refused (503), never served.
 */
function openObjectStore(bucket: string): ObjectStore | undefined {
  return objectStoreIn?.(bucket);
}

const keyIds = (current?: string, previous?: string): KmsKeyIds | undefined =>
  current === undefined ? undefined : { current, previous };

/** A function that holds no pseudonym key (only the exchange derives pseudonyms). */
const noPseudonyms: PseudonymKeys = {
  forAgreement: async () => {
    throw new Error("this function holds no pseudonym key");
  },
  derive: async () => {
    throw new Error("this function holds no pseudonym key");
  },
};

/** The gateway of this container, built on first use; a failed build is tried again next time. */
export function lazyGateway(extras?: GatewayExtras): () => Promise<Gateway> {
  let ready: Promise<Gateway> | undefined;
  return () => {
    ready ??= buildGateway(parseLambdaEnv(process.env), awsClients, extras).catch(
      (err: unknown) => {
        ready = undefined;
        throw err;
      },
    );
    return ready;
  };
}

type LambdaHandler = ReturnType<typeof handle>;

interface HttpEvent {
  readonly headers?: Readonly<Record<string, string | undefined>>;
  readonly requestContext?: {
    readonly domainName?: string;
    readonly authentication?: { readonly clientCert?: unknown };
  };
}

/**
 * Behind the front door, only two ways in: through CloudFront (which adds
 * the origin secret) or on the mTLS name with a client certificate API
 * Gateway verified. Anything else reached the API around the web ACL (its
 * execute-api URL): it is answered as if there were no such route.
 */
export function cameThroughFrontDoor(
  event: HttpEvent,
  env: Pick<LambdaEnv, "ORIGIN_VERIFY" | "MTLS_DOMAIN">,
): boolean {
  if (env.ORIGIN_VERIFY === undefined) return true;
  const given = event.headers?.["x-gateway-origin"];
  if (given !== undefined && sameBytes(Buffer.from(given), Buffer.from(env.ORIGIN_VERIFY)))
    return true;
  const rc = event.requestContext;
  return (
    env.MTLS_DOMAIN !== undefined &&
    rc?.domainName === env.MTLS_DOMAIN &&
    rc.authentication?.clientCert !== undefined
  );
}

const notFound = () => ({
  statusCode: 404,
  headers: { "content-type": "application/problem+json", "x-request-id": randomUUID() },
  body: JSON.stringify({
    type: "urn:dsg:problem:not_found",
    title: "No such route",
    status: 404,
    detail: "no route for this method and path",
    code: "not_found",
  }),
  isBase64Encoded: false,
});

/** A Lambda handler for an app built on the first invocation. */
export function lazyHandler(
  makeApp: (gw: Gateway) => Hono<AppEnv>,
  extras?: GatewayExtras,
): LambdaHandler {
  const gateway = lazyGateway(extras);
  let handler: LambdaHandler | undefined;
  let env: LambdaEnv | undefined;
  return instrument(async (event: unknown, context: unknown) => {
    env ??= parseLambdaEnv(process.env);
    if (!cameThroughFrontDoor(event as HttpEvent, env)) return notFound();
    handler ??= handle(makeApp(await gateway()) as unknown as Hono);
    return handler(event as never, context as never);
  }) as unknown as LambdaHandler;
}
