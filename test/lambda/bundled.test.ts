import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keysFromFile, newPrivateJwk } from "../../functions/auth/local-keys.ts";
import type { S3ObjectStore } from "../../functions/store/objects.ts";
import { FUNCTION_NAMES, type FunctionName } from "../../infra/bundling.ts";
import { createEcosystem, type Ecosystem } from "../support/ecosystem.ts";
import { createTestGateway, createTestObjectStore, type TestGateway } from "../support/gateway.ts";
import { importBundle, useLambdaEnvironment } from "./bundle-env.ts";
import { httpApiEvent, lambdaContext } from "./events.ts";

type Handler = (
  event: unknown,
  context: unknown,
) => Promise<{ statusCode: number; headers?: Record<string, string>; body?: string }>;

let t: TestGateway;
let eco: Ecosystem;
let objects: S3ObjectStore;
const handlers = {} as Record<FunctionName, Handler>;

beforeAll(async () => {
  const jwk = await newPrivateJwk();
  objects = await createTestObjectStore();
  t = await createTestGateway({ keys: keysFromFile({ current: jwk }), objects });
  eco = await createEcosystem(t);
  useLambdaEnvironment(t, jwk, objects);
  for (const name of FUNCTION_NAMES)
    handlers[name] = (await importBundle<{ handler: Handler }>(name)).handler;
}, 120_000);

afterAll(() => eco?.close());

const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`;

async function token(id: string, secret: string, scope: string): Promise<string> {
  const res = await handlers.token(
    httpApiEvent("POST", "/oauth/token", {
      routeKey: "POST /oauth/token",
      headers: {
        authorization: basic(id, secret),
        "content-type": "application/x-www-form-urlencoded",
      },
      body: `grant_type=client_credentials&scope=${encodeURIComponent(scope)}`,
    }),
    lambdaContext,
  );
  expect(res.statusCode, res.body).toBe(200);
  return (JSON.parse(res.body ?? "{}") as { access_token: string }).access_token;
}

const read = (bearer: string, path = "") =>
  handlers.exchange(
    httpApiEvent("GET", `/v1/exchange/${eco.agreement}${path}`, {
      routeKey: "GET /v1/exchange/{proxy+}",
      headers: { authorization: `Bearer ${bearer}`, "data-purpose": "insurance-pricing" },
    }),
    lambdaContext,
  );

describe("bundled Lambda handlers", () => {
  it("token, exchange, revoke and metrics work as deployed", async () => {
    const consumer = await token(
      eco.ids.consumer,
      eco.secrets[eco.ids.consumer] ?? "",
      `agreement:${eco.agreement}`,
    );
    const first = await read(consumer);
    expect(first.statusCode).toBe(200);
    expect(first.headers?.["x-records"]).toBe("2");
    const body = JSON.parse(first.body ?? "{}") as { items: Record<string, unknown>[] };
    expect(JSON.stringify(body)).not.toContain("CAL-");
    expect(body.items[0]).toEqual({
      vin: "VIN-1",
      mileage: 1000,
      speed: { avg: 50 },
      driver: { name: "Anna" },
    });

    const operator = await token("operator", t.operatorSecret, "admin");
    const revoke = await handlers.admin(
      httpApiEvent("POST", `/admin/partners/${eco.ids.consumer}/revoke`, {
        routeKey: "ANY /admin/{proxy+}",
        headers: { authorization: `Bearer ${operator}`, "content-type": "application/json" },
        body: JSON.stringify({ reason: "lambda test" }),
      }),
      lambdaContext,
    );
    expect(revoke.statusCode, revoke.body).toBe(200);
    const after = await read(consumer);
    expect(after.statusCode).toBe(403);
    expect(after.headers?.["content-type"]).toMatch(/problem\+json/);
    expect(JSON.parse(after.body ?? "{}")).toMatchObject({ code: "partner_revoked" });

    const finance = await token("finance", t.financeSecret, "metrics:read");
    const flows = await handlers.metrics(
      httpApiEvent("GET", "/metrics/flows?granularity=total", {
        routeKey: "GET /metrics/{proxy+}",
        headers: { authorization: `Bearer ${finance}` },
      }),
      lambdaContext,
    );
    expect(flows.statusCode).toBe(200);
    const row = (
      JSON.parse(flows.body ?? "{}") as {
        items: { agreement: string; requests: number; denied: number; records: number }[];
      }
    ).items.find((r) => r.agreement === eco.agreement);
    expect(row).toMatchObject({ requests: 1, denied: 1, records: 2 });
  });

  it("refuses path tricks in the raw path before routing", async () => {
    const consumer = await token("finance", t.financeSecret, "metrics:read");
    const res = await read(consumer, "/%2e%2e/%2e%2e/admin");
    expect(res.statusCode).toBe(400);
    expect(JSON.parse(res.body ?? "{}")).toMatchObject({ code: "invalid_path" });
  });

  it("answers unknown routes with problem+json and every response with X-Request-Id", async () => {
    const res = await handlers.meta(httpApiEvent("GET", "/nowhere"), lambdaContext);
    expect(res.statusCode).toBe(404);
    expect(res.headers?.["x-request-id"]).toBeTruthy();
  });

  it("the admin bundle serves the console: its static files ride inside index.mjs", async () => {
    const { readFileSync } = await import("node:fs");
    const { createRequire } = await import("node:module");
    const uplot = readFileSync(
      createRequire(import.meta.url).resolve("uplot/dist/uPlot.iife.min.js"),
      "utf8",
    );
    const res = await handlers.admin(
      httpApiEvent("GET", "/console/assets/uplot.js", { routeKey: "ANY /console/{proxy+}" }),
      lambdaContext,
    );
    expect(res.statusCode).toBe(200);
    expect(res.headers?.["content-type"]).toMatch(/^text\/javascript/);
    expect(res.headers?.["content-security-policy"]).toContain("default-src 'self'");
    expect(res.body).toBe(uplot);
    const script = await handlers.admin(
      httpApiEvent("GET", "/console/assets/console.js", { routeKey: "ANY /console/{proxy+}" }),
      lambdaContext,
    );
    expect(script.body).toContain("uPlot");
    // This environment names no OpenID provider: the console says so instead of failing open.
    const page = await handlers.admin(
      httpApiEvent("GET", "/console", { routeKey: "GET /console" }),
      lambdaContext,
    );
    expect(page.statusCode).toBe(503);
    expect(page.body).toContain("Sign-in is not configured");
  });

  it("the exchange bundle keeps a large read in the object store (AWS_ENDPOINT_URL_S3) and replays it", async () => {
    // An ecosystem of its own: the first test revokes the shared consumer.
    const e = await createEcosystem(t);
    const consumer = await token(
      e.ids.consumer,
      e.secrets[e.ids.consumer] ?? "",
      `agreement:${e.agreement}`,
    );
    const items = Array.from({ length: 1200 }, (_, i) => ({ vin: `VIN-L${i}`, mileage: i }));
    const original = e.provider.handler;
    let calls = 0;
    e.provider.handler = (_req, res) => {
      calls++;
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ items: items.map((x) => ({ ...x, mileage: x.mileage + calls })) }));
    };
    try {
      const keyed = (bearer: string) =>
        handlers.exchange(
          httpApiEvent("GET", `/v1/exchange/${e.agreement}`, {
            routeKey: "GET /v1/exchange/{proxy+}",
            headers: {
              authorization: `Bearer ${bearer}`,
              "data-purpose": "insurance-pricing",
              "idempotency-key": "lambda-large",
            },
          }),
          lambdaContext,
        );
      const first = await keyed(consumer);
      expect(first.statusCode, first.body).toBe(200);
      expect(Buffer.byteLength(first.body ?? "")).toBeGreaterThan(32 * 1024);
      const kept = await objects.list(`replays/${e.agreement}/`, "test");
      expect(kept).toHaveLength(1);
      const again = await keyed(consumer);
      expect(again.statusCode).toBe(200);
      expect(again.body).toBe(first.body);
      expect(calls).toBe(1);
      // HEAD reaches the function as HEAD: 405, the provider not called.
      const head = await handlers.exchange(
        httpApiEvent("HEAD", `/v1/exchange/${e.agreement}`, {
          routeKey: "HEAD /v1/exchange/{proxy+}",
          headers: { authorization: `Bearer ${consumer}`, "data-purpose": "insurance-pricing" },
        }),
        lambdaContext,
      );
      expect(head.statusCode).toBe(405);
      expect(calls).toBe(1);
    } finally {
      e.provider.handler = original;
      await e.close();
    }
  });

  it("the events function runs a pass over the outbox", async () => {
    const out = (await (
      handlers.events as unknown as (e: unknown) => Promise<{ events: number; attempts: number }>
    )({ Records: [] })) as {
      events: number;
    };
    expect(out.events).toBeGreaterThanOrEqual(1);
  });
});
