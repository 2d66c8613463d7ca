/**
 * A gateway for tests: real DynamoDB Local tables of its own, fresh keys, a
 * controllable clock, and helpers that go through the public API.
 */
import { randomUUID } from "node:crypto";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { inject } from "vitest";
import { createApp } from "../../functions/app.ts";
import { ephemeralKeys } from "../../functions/auth/local-keys.ts";
import { pseudonymKeysFromSecret } from "../../functions/auth/pseudonyms.ts";
import { issueAccessToken } from "../../functions/auth/tokens.ts";
import { ensureClient, ensureTradeRules } from "../../functions/bootstrap.ts";
import {
  createGateway,
  DEFAULT_SETTINGS,
  type Gateway,
  type GatewayDeps,
} from "../../functions/gateway.ts";
import { localDynamoClient } from "../../functions/local/server.ts";
import { silentLogger } from "../../functions/log.ts";
import { ensureTables, localTableNames } from "../../functions/store/create-tables.ts";
import { ensureBucket, localS3Client, S3ObjectStore } from "../../functions/store/objects.ts";
import { ALL_SURFACES } from "../../functions/surfaces/index.ts";

export const ISSUER = "http://gateway.test";

export interface TestGateway {
  readonly gw: Gateway;
  readonly app: ReturnType<typeof createApp>;
  readonly client: DynamoDBClient;
  /** Shift the gateway's clock (milliseconds added to real time). */
  readonly clock: { offsetMs: number };
  readonly operatorSecret: string;
  readonly financeSecret: string;
  /** A token minted in-process (scope as given) for the named client. */
  token(sub: string, scopes: string[]): Promise<string>;
  /** Calls the app with JSON and an optional bearer token. */
  call(
    method: string,
    path: string,
    options?: { token?: string; body?: unknown; headers?: Record<string, string> },
  ): Promise<Response>;
  admin(method: string, path: string, body?: unknown): Promise<Response>;
}

export function dynamoEndpoint(): string {
  return inject("dynamoEndpoint");
}

export function s3Endpoint(): string {
  return inject("s3Endpoint");
}

/** An object store of its own (a fresh bucket) on the run's S3-compatible server. */
export async function createTestObjectStore(): Promise<S3ObjectStore> {
  const client = localS3Client(s3Endpoint());
  const bucket = `t-${randomUUID().slice(0, 8)}`;
  await ensureBucket(client, bucket);
  return new S3ObjectStore(client, bucket);
}

export async function createTestGateway(
  overrides: Partial<GatewayDeps> = {},
): Promise<TestGateway> {
  const client = overrides.client ?? localDynamoClient(dynamoEndpoint());
  const tables = overrides.tables ?? localTableNames(`t${randomUUID().slice(0, 8)}`);
  if (overrides.tables === undefined)
    // No TTL: tests move the clock to past months (see EnsureTablesOptions).
    await ensureTables(localDynamoClient(dynamoEndpoint()), tables, { ttl: false });
  const clock = { offsetMs: 0 };
  const keys = overrides.keys ?? (await ephemeralKeys());
  const objects = overrides.objects ?? (await createTestObjectStore());
  const gw = createGateway({
    client,
    tables,
    objects,
    keys,
    pseudonyms: pseudonymKeysFromSecret(Buffer.alloc(32, 7)),
    settings: {
      ...DEFAULT_SETTINGS,
      issuer: ISSUER,
      audience: ISSUER,
      localBackends: true,
      upstreamTimeoutMs: 3000,
    },
    log: silentLogger,
    clock: () => new Date(Date.now() + clock.offsetMs),
    ...overrides,
  });
  const app = createApp(gw, ALL_SURFACES);
  await ensureTradeRules(gw);
  const operator = await ensureClient(gw, "operator", "admin", undefined);
  const finance = await ensureClient(gw, "finance", "metrics:read", undefined);
  const token = async (sub: string, scopes: string[]) =>
    (
      await issueAccessToken(
        gw.keys.signer,
        {
          issuer: gw.settings.issuer,
          audience: gw.settings.audience,
          maxLifetimeSeconds: gw.settings.tokenTtlSeconds,
        },
        { sub, scopes, ttlSeconds: gw.settings.tokenTtlSeconds },
        gw.clock(),
      )
    ).token;
  const call: TestGateway["call"] = (method, path, options = {}) =>
    Promise.resolve(
      app.request(path, {
        method,
        headers: {
          ...(options.token === undefined ? {} : { Authorization: `Bearer ${options.token}` }),
          ...(options.body === undefined ? {} : { "Content-Type": "application/json" }),
          ...options.headers,
        },
        ...(options.body === undefined
          ? {}
          : {
              body: typeof options.body === "string" ? options.body : JSON.stringify(options.body),
            }),
      }),
    );
  const adminToken = await token("operator", ["admin"]);
  return {
    gw,
    app,
    client,
    clock,
    operatorSecret: operator.clientSecret,
    financeSecret: finance.clientSecret,
    token,
    call,
    admin: (method, path, body) => call(method, path, { token: adminToken, body }),
  };
}
