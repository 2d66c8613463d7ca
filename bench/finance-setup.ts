/**
 * What the metering, finance and cost benches share: a gateway on its own
 * DynamoDB Local (in memory) with the app in-process, a provider on
 * loopback, one provider and one consumer, a dataset, agreements, and tokens.
 */
import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { Hono } from "hono";
import { createApp } from "../functions/app.ts";
import { ephemeralKeys } from "../functions/auth/local-keys.ts";
import { pseudonymKeysFromSecret } from "../functions/auth/pseudonyms.ts";
import { issueAccessToken } from "../functions/auth/tokens.ts";
import { ensureClient, ensureTradeRules } from "../functions/bootstrap.ts";
import { createGateway, DEFAULT_SETTINGS, type Gateway } from "../functions/gateway.ts";
import type { AppEnv } from "../functions/http/env.ts";
import { startDynamoLocal } from "../functions/local/dynamo-local.ts";
import { localDynamoClient } from "../functions/local/server.ts";
import { silentLogger } from "../functions/log.ts";
import { ensureTables, localTableNames } from "../functions/store/create-tables.ts";
import { ALL_SURFACES } from "../functions/surfaces/index.ts";
import { EXAMPLE_DATASET } from "../policies/demo/ecosystem.ts";

const ISSUER = "http://bench.finance";
export const PURPOSE = "insurance-pricing";
export const PROVIDER = "bench-provider";
export const CONSUMER = "bench-consumer";
export const DATASET = "bench-telemetry";

export interface FinanceBench {
  readonly gw: Gateway;
  readonly client: DynamoDBClient;
  readonly app: Hono<AppEnv>;
  /** A gateway token with these scopes (minted, not issued by the token endpoint). */
  mint(sub: string, scopes: string[]): Promise<string>;
  /** A call that must succeed; its JSON answer. */
  call(
    method: string,
    path: string,
    token: string,
    body?: unknown,
  ): Promise<Record<string, unknown>>;
  /** The same with an operator's token. */
  admin(method: string, path: string, body?: unknown): Promise<Record<string, unknown>>;
  /** Creates an active read agreement between the bench's two partners. */
  agreement(id: string, extra?: Record<string, unknown>): Promise<void>;
  /** A consumer token from the real token endpoint for these agreements. */
  consumerToken(agreements: readonly string[]): Promise<string>;
  close(): Promise<void>;
}

/** A provider answering every read with `records` records. */
async function startProvider(records: number): Promise<{ url: string; server: Server }> {
  const items = Array.from({ length: records }, (_, i) => ({
    vin: `WDB${String(100_000 + i)}`,
    mileage: 40_000 + i,
    speed: { avg: 61.5, max: 140 },
    engine: { calibration: `CAL-${String(100_000 + i)}` },
    driver: { name: `Driver ${i}` },
  }));
  const body = JSON.stringify({ items });
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  return { url: `http://127.0.0.1:${port}`, server };
}

export async function startFinanceBench(records = 10): Promise<FinanceBench> {
  const store = await startDynamoLocal({ dbPath: null, timeoutMs: 60_000 });
  const provider = await startProvider(records);
  const client = localDynamoClient(store.endpoint);
  const tables = localTableNames(`bf${randomUUID().slice(0, 8)}`);
  await ensureTables(client, tables);
  const gw = createGateway({
    client,
    tables,
    keys: await ephemeralKeys(),
    pseudonyms: pseudonymKeysFromSecret(Buffer.alloc(32, 5)),
    settings: { ...DEFAULT_SETTINGS, issuer: ISSUER, audience: ISSUER, localBackends: true },
    log: silentLogger,
  });
  const app = createApp(gw, ALL_SURFACES);
  await ensureTradeRules(gw);
  await ensureClient(gw, "operator", "admin", undefined);
  await ensureClient(gw, "finance", "metrics:read", undefined);
  const mint = async (sub: string, scopes: string[]) =>
    (
      await issueAccessToken(
        gw.keys.signer,
        { issuer: ISSUER, audience: ISSUER, maxLifetimeSeconds: 900 },
        { sub, scopes, ttlSeconds: 900 },
        gw.clock(),
      )
    ).token;
  const operator = await mint("operator", ["admin"]);
  const call = async (method: string, path: string, token: string, body?: unknown) => {
    const res = await app.request(path, {
      method,
      headers: {
        Authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return JSON.parse(text) as Record<string, unknown>;
  };
  const admin = (method: string, path: string, body?: unknown) =>
    call(method, path, operator, body);
  const secrets: Record<string, string> = {};
  for (const [id, jurisdiction] of [
    [PROVIDER, "SE"],
    [CONSUMER, "DE"],
  ] as const) {
    const created = await admin("POST", "/admin/partners", {
      id,
      name: id,
      jurisdiction,
      baseUrl: provider.url,
    });
    secrets[id] = String(created.clientSecret);
  }
  const { exportControl: _none, ...dataset } = EXAMPLE_DATASET;
  await admin("POST", "/admin/datasets", { ...dataset, id: DATASET, owner: PROVIDER });
  const now = Date.now();
  return {
    gw,
    client,
    app,
    mint,
    call,
    admin,
    async agreement(id, extra = {}) {
      await admin("POST", "/admin/agreements", {
        id,
        dataset: DATASET,
        provider: PROVIDER,
        consumer: CONSUMER,
        actions: ["read"],
        fields: ["vin", "mileage", "speed.avg"],
        purposes: [PURPOSE],
        validFrom: new Date(now - 86_400_000).toISOString(),
        validUntil: new Date(now + 30 * 86_400_000).toISOString(),
        price: { currency: "EUR", perRequest: 100, perRecord: 2000 },
        ...extra,
      });
    },
    async consumerToken(agreements) {
      const res = await app.request("/oauth/token", {
        method: "POST",
        headers: {
          Authorization: `Basic ${Buffer.from(`${CONSUMER}:${secrets[CONSUMER]}`).toString("base64")}`,
          "Content-Type": "application/x-www-form-urlencoded",
        },
        body: new URLSearchParams({
          grant_type: "client_credentials",
          scope: agreements.map((a) => `agreement:${a}`).join(" "),
        }).toString(),
      });
      return ((await res.json()) as { access_token: string }).access_token;
    },
    async close() {
      provider.server.closeAllConnections();
      await new Promise<void>((r) => provider.server.close(() => r()));
      await store.stop();
    },
  };
}
