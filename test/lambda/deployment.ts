/**
 * The synthesized stack, run locally: every function's bundle (built with
 * the CDK app's esbuild options) hosted in its own worker with the
 * template's environment, tables, keys, the objects bucket and the
 * functions' aliases replaced by local stand-ins (DynamoDB Local tables, keys
 * of a loopback KMS, a bucket on the run's s3rver, a loopback Lambda
 * endpoint invoking the hosted functions), and requests routed to functions
 * by the template's API routes, as API Gateway routes them.
 */
import { randomUUID } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { keysFromFile, newPrivateJwk } from "../../functions/auth/local-keys.ts";
import { pseudonymKeysFromSecret } from "../../functions/auth/pseudonyms.ts";
import { scryptSecrets } from "../../functions/auth/secrets.ts";
import { ensureClient, ensureTradeRules } from "../../functions/bootstrap.ts";
import { createGateway, DEFAULT_SETTINGS, type Gateway } from "../../functions/gateway.ts";
import { localDynamoClient } from "../../functions/local/server.ts";
import { silentLogger } from "../../functions/log.ts";
import { ensureTables, localTableNames } from "../../functions/store/create-tables.ts";
import { ensureBucket, localS3Client, S3ObjectStore } from "../../functions/store/objects.ts";
import { TABLES, type TableName } from "../../functions/store/schema.ts";
import {
  BUNDLE_OPTIONS,
  type FunctionName,
  LAMBDA_ENTRIES,
  PROJECT_ROOT,
} from "../../infra/bundling.ts";
import { OBJECTS_LOGICAL_ID } from "../../infra/constructs/objects.ts";
import { TABLE_LOGICAL_IDS } from "../../infra/constructs/tables.ts";
import {
  functionId,
  logicalId,
  resources,
  roleId,
  type Synthesized,
  synth,
} from "../infra/helpers.ts";
import { dynamoEndpoint, s3Endpoint } from "../support/gateway.ts";
import { type FakeKeySpec, type FakeKms, startFakeKms } from "./fake-kms.ts";
import { type FakeLambda, startFakeLambda } from "./fake-lambda.ts";
import { type HostedFunction, type HttpAnswer, hostFunction, type RecordedCall } from "./host.ts";
import { environmentOf, matchRoute, type Route, resolveEnvironment, routesOf } from "./template.ts";

export const ISSUER = "https://gateway.lambda.test";
/** Where people would sign in (Cognito in AWS); the scenario seeds sessions instead. */
export const PEOPLE_ISSUER = "https://people.lambda.test";
const REGION = "eu-north-1";
const ACCOUNT = "123456789012";

export interface LocalDeployment {
  readonly synthesized: Synthesized;
  readonly names: readonly FunctionName[];
  readonly functions: Readonly<Record<string, HostedFunction>>;
  /** The function the API routes a request to. */
  routeOf(method: string, path: string): { name: string; routeKey: string };
  /** A request through the API: routed by the template, answered by the bundle. */
  request(
    method: string,
    target: string,
    options?: {
      headers?: Record<string, string>;
      body?: string;
      domainName?: string;
      clientCert?: { subjectDN: string; issuerDN: string; serialNumber: string };
      /** As CloudFront sends it: with the origin secret (when the stack has a front door). */
      viaFrontDoor?: boolean;
    },
  ): Promise<HttpAnswer & { function: string }>;
  /** The origin secret the functions were given (behind a front door). */
  readonly originSecret: string;
  /** Every call each function made so far (and forgets them). */
  takeCalls(): Promise<Record<string, RecordedCall[]>>;
  /** The local ARN of a template key (by logical id). */
  keyArn(logicalId: string): string;
  /** Physical table name → logical id; KMS key ARN → logical id; bucket name → logical id. */
  readonly tableLogicalId: (name: unknown) => string;
  readonly keyLogicalId: (id: unknown) => string;
  readonly bucketLogicalId: (name: unknown) => string;
  /** The local ARN of a function's live alias (what the template's environment names). */
  aliasArn(name: FunctionName): string;
  /** A function alias's local ARN → the alias's logical id. */
  readonly functionLogicalId: (name: unknown) => string;
  /** The same tables, in-process, for seeding what a scenario cannot reach through the API. */
  readonly store: Gateway;
  /** The objects bucket's stand-in, for looking at what the functions kept there. */
  readonly objects: S3ObjectStore;
  readonly kms: FakeKms;
  /** The Lambda endpoint functions invoke each other through (transfer jobs). */
  readonly lambda: FakeLambda;
  readonly operatorSecret: string;
  readonly financeSecret: string;
  close(): Promise<void>;
}

const keyArn = (logicalId: string) =>
  `arn:aws:kms:${REGION}:${ACCOUNT}:key/${logicalId.toLowerCase()}-${randomUUID()}`;

export async function deployLocally(
  context: Record<string, unknown> = { stage: "dev" },
  options: { only?: readonly FunctionName[]; logLevel?: "info" | "warn" | "error" } = {},
): Promise<LocalDeployment> {
  const synthesized = synth(context);
  const { template, stack } = synthesized;
  const names = (Object.keys(stack.functions) as FunctionName[]).filter(
    (n) => options.only === undefined || options.only.includes(n),
  );

  // Tables: one local table per template table, named after the run.
  const client = localDynamoClient(dynamoEndpoint());
  const tables = localTableNames(`l${randomUUID().slice(0, 8)}`);
  await ensureTables(client, tables);
  const standIns = new Map<string, string>();
  const byPhysical = new Map<string, string>();
  for (const t of TABLES as readonly TableName[]) {
    standIns.set(TABLE_LOGICAL_IDS[t], tables[t]);
    byPhysical.set(tables[t], TABLE_LOGICAL_IDS[t]);
  }

  // Keys: every asymmetric or HMAC key of the template, in the loopback KMS.
  const kms = await startFakeKms();
  const byArn = new Map<string, string>();
  for (const [id, key] of Object.entries(resources(template, "AWS::KMS::Key"))) {
    const spec = key.Properties?.KeySpec as FakeKeySpec | undefined;
    if (spec !== "ECC_NIST_P256" && spec !== "HMAC_256") continue;
    const arn = keyArn(id);
    kms.addKey(arn, spec);
    standIns.set(id, arn);
    byArn.set(arn, id);
  }

  // The objects bucket: a bucket of the run's s3rver, named after the run.
  const objects = new S3ObjectStore(
    localS3Client(s3Endpoint()),
    `l${randomUUID().slice(0, 8)}-objects`,
  );
  await ensureBucket(objects.client, objects.bucket);
  standIns.set(OBJECTS_LOGICAL_ID, objects.bucket);

  // Function aliases (what one function invokes another by): local ARNs, served by the loopback Lambda.
  const lambda = await startFakeLambda();
  const aliasArns = new Map<string, FunctionName>();
  const byAliasArn = new Map<string, string>();
  // Every alias, hosted here or not (an invocation of one not hosted is answered 404).
  for (const name of Object.keys(stack.functions) as FunctionName[]) {
    const aliasId = logicalId(stack.functions[name].alias);
    const arn = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}:live`;
    standIns.set(aliasId, arn);
    aliasArns.set(arn, name);
    byAliasArn.set(arn, aliasId);
  }

  // People sign in at Cognito in AWS: a provider of that name here (never called by the scenario).
  for (const id of Object.keys(resources(template, "AWS::Cognito::UserPoolClient")))
    standIns.set(id, `client-${id.toLowerCase()}`);

  // Bootstrap, as `npm run bootstrap` does after a deploy: trade rules, operator, finance.
  const store = createGateway({
    client,
    tables,
    keys: keysFromFile({ current: await newPrivateJwk() }),
    pseudonyms: pseudonymKeysFromSecret(Buffer.alloc(32, 3)),
    // As `npm run bootstrap` does: scrypt hashes, upgraded by the token function on first use.
    secrets: scryptSecrets,
    settings: { ...DEFAULT_SETTINGS, issuer: ISSUER, audience: ISSUER, localBackends: true },
    log: silentLogger,
  });
  await ensureTradeRules(store);
  const operator = await ensureClient(store, "operator", "admin", undefined);
  const finance = await ensureClient(store, "finance", "metrics:read", undefined);

  const originSecret = randomUUID() + randomUUID();
  const overrides: Record<string, string> = {
    // The API's own endpoint is not known outside AWS; partner backends run on loopback.
    ISSUER,
    LOCAL_BACKENDS: "1",
    AWS_REGION: REGION,
    // s3rver knows this one key id (it checks no signature); DynamoDB Local and the KMS take any.
    AWS_ACCESS_KEY_ID: "S3RVER",
    AWS_SECRET_ACCESS_KEY: "S3RVER",
    AWS_ENDPOINT_URL_DYNAMODB: dynamoEndpoint(),
    AWS_ENDPOINT_URL_KMS: kms.endpoint,
    AWS_ENDPOINT_URL_S3: s3Endpoint(),
    AWS_ENDPOINT_URL_LAMBDA: lambda.endpoint,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    LOG_LEVEL: options.logLevel ?? "error",
  };
  const outDir = join(PROJECT_ROOT, ".build", "test-lambda", `${process.pid}-${randomUUID()}`);
  const functions: Record<string, HostedFunction> = {};
  const byFunctionId = new Map<string, string>();
  for (const name of names) {
    const outfile = join(outDir, name, "index.mjs");
    await mkdir(join(outDir, name), { recursive: true });
    await build({
      ...BUNDLE_OPTIONS,
      entryPoints: [LAMBDA_ENTRIES[name]],
      outfile,
      logLevel: "error",
    });
    const variables = environmentOf(template, functionId(synthesized, name));
    // Secrets Manager resolves the origin secret at deploy; here, a local one.
    const local = {
      ...overrides,
      ...("ORIGIN_VERIFY" in variables ? { ORIGIN_VERIFY: originSecret } : {}),
      ...("OIDC_ISSUER" in variables ? { OIDC_ISSUER: PEOPLE_ISSUER } : {}),
    };
    const env = resolveEnvironment(variables, standIns, local);
    functions[name] = await hostFunction(name, pathToFileURL(outfile).href, env);
    byFunctionId.set(functionId(synthesized, name), name);
  }
  for (const [arn, name] of aliasArns) {
    const hosted = functions[name];
    if (hosted !== undefined) lambda.addFunction(arn, hosted);
  }

  const routes: Route[] = routesOf(template);
  const routeOf = (method: string, path: string) => {
    const route = matchRoute(routes, method, path);
    const name = byFunctionId.get(route.functionId);
    if (name === undefined) throw new Error(`route ${route.routeKey} reaches no gateway function`);
    return { name, routeKey: route.routeKey };
  };

  return {
    synthesized,
    names,
    functions,
    routeOf,
    async request(method, target, options = {}) {
      const path = target.split("?")[0] ?? target;
      const { name, routeKey } = routeOf(method, path);
      const fn = functions[name];
      if (fn === undefined) throw new Error(`${name} is not hosted in this deployment`);
      const { viaFrontDoor = true, headers, ...rest } = options;
      const sent = {
        ...rest,
        routeKey,
        headers: {
          ...(viaFrontDoor ? { "x-gateway-origin": originSecret } : {}),
          ...headers,
        },
      };
      return { ...(await fn.http(method, target, sent)), function: name };
    },
    originSecret,
    async takeCalls() {
      const out: Record<string, RecordedCall[]> = {};
      for (const name of names) out[name] = await (functions[name] as HostedFunction).takeCalls();
      return out;
    },
    keyArn: (logicalId) => {
      for (const [arn, id] of byArn) if (id === logicalId) return arn;
      throw new Error(`no key ${logicalId}`);
    },
    tableLogicalId: (name) => {
      const id = byPhysical.get(String(name));
      if (id === undefined) throw new Error(`a call to an unknown table ${String(name)}`);
      return id;
    },
    bucketLogicalId: (name) => {
      if (name !== objects.bucket) throw new Error(`a call to an unknown bucket ${String(name)}`);
      return OBJECTS_LOGICAL_ID;
    },
    aliasArn: (name) => {
      for (const [arn, n] of aliasArns) if (n === name) return arn;
      throw new Error(`no alias of ${name}`);
    },
    functionLogicalId: (name) => {
      const id = byAliasArn.get(String(name));
      if (id === undefined) throw new Error(`an invocation of an unknown function ${String(name)}`);
      return id;
    },
    keyLogicalId: (id) => {
      for (const [arn, logical] of byArn)
        if (arn === id || arn.endsWith(`/${String(id)}`)) return logical;
      throw new Error(`a call with an unknown key ${String(id)}`);
    },
    store,
    objects,
    kms,
    lambda,
    operatorSecret: operator.clientSecret,
    financeSecret: finance.clientSecret,
    async close() {
      for (const fn of Object.values(functions)) await fn.close();
      await kms.close();
      await lambda.close();
    },
  };
}

export const roleOf = (d: LocalDeployment, name: FunctionName): string =>
  roleId(d.synthesized, name);
