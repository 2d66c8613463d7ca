/**
 * The partner SDK's GatewayClient against a real gateway served over HTTP on
 * loopback (DynamoDB Local behind it, partner backends as real servers):
 * reads and delivers, problems mapped to GatewayProblem, retries of
 * idempotent calls with one Idempotency-Key (served again, metered once),
 * Retry-After honoured, token caching and renewal after expiry, and the
 * self-service flow from offer to first read. Transfers are not tested here:
 * their routes are not in the gateway yet.
 */
import { GatewayClient, GatewayProblem, GatewayUnreachable } from "@data-sharing-gateway/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEcosystem, type Ecosystem, RECORDS } from "../support/ecosystem.ts";
import { type ServedGateway, serveGateway } from "./support.ts";

let g: ServedGateway;
const ecosystems: Ecosystem[] = [];

beforeAll(async () => {
  g = await serveGateway();
});
afterAll(async () => {
  for (const e of ecosystems) await e.close();
  await g.close();
});

async function ecosystem(options: Parameters<typeof createEcosystem>[1] = {}) {
  const e = await createEcosystem(g.t, options);
  ecosystems.push(e);
  return e;
}

interface Seen {
  readonly method: string;
  readonly path: string;
  readonly headers: Headers;
}

/** A fetch that records what the client sends, and can be told to misbehave. */
function recordingFetch(
  misbehave: (request: Request, n: number, real: () => Promise<Response>) => Promise<Response> = (
    _r,
    _n,
    real,
  ) => real(),
) {
  const seen: Seen[] = [];
  const fetchFn = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    seen.push({
      method: request.method,
      path: new URL(request.url).pathname,
      headers: request.headers,
    });
    return misbehave(request, seen.length, () => fetch(request));
  };
  return { seen, fetchFn: fetchFn as typeof fetch };
}

const clientFor = (
  eco: Ecosystem,
  partner: string,
  options: Partial<ConstructorParameters<typeof GatewayClient>[0]> = {},
) =>
  new GatewayClient({
    baseUrl: g.url,
    clientId: partner,
    clientSecret: eco.secrets[partner] ?? "",
    ...options,
  });

async function flowCount(agreement: string): Promise<{ requests: number; records: number }> {
  const token = await g.t.token("finance", ["metrics:read"]);
  const deadline = Date.now() + 6000;
  for (;;) {
    const res = await g.t.call("GET", "/metrics/flows?granularity=total&groupBy=agreement", {
      token,
    });
    const body = (await res.json()) as {
      items: { agreement: string; requests: number; records: number }[];
    };
    const row = body.items.find((r) => r.agreement === agreement);
    if (row !== undefined || Date.now() > deadline) return row ?? { requests: 0, records: 0 };
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe("read and deliver", () => {
  it("reads through the gateway: cut to the agreement, X-Records counted", async () => {
    const eco = await ecosystem();
    const consumer = clientFor(eco, eco.ids.consumer);
    const result = await consumer.read(eco.agreement, { purpose: "insurance-pricing" });
    expect(result.records).toBe(2);
    expect(result.contentType).toContain("application/json");
    const body = result.json<{ items: Record<string, unknown>[] }>();
    expect(body.items.map((r) => Object.keys(r).sort())).toEqual([
      ["driver", "mileage", "speed", "vin"],
      ["driver", "mileage", "speed", "vin"],
    ]);
    expect(result.text).not.toContain("CAL-");
    expect(eco.provider.received.at(-1)?.url).toBe("/telemetry");
  });

  it("reads a subpath with a query, each segment encoded", async () => {
    const eco = await ecosystem();
    const consumer = clientFor(eco, eco.ids.consumer);
    await consumer.read(eco.agreement, {
      purpose: "insurance-pricing",
      subpath: "daily/2026 11",
      query: { vin: "VIN-1" },
    });
    expect(eco.provider.received.at(-1)?.url).toBe("/telemetry/daily/2026%2011?vin=VIN-1");
  });

  it("delivers records as NDJSON, cut to the agreement", async () => {
    const eco = await ecosystem();
    const provider = clientFor(eco, eco.ids.provider);
    const result = await provider.deliver(eco.agreement, RECORDS, { purpose: "insurance-pricing" });
    expect(result.records).toBe(2);
    expect(result.response).toEqual({ delivered: true, records: 2 });
    const got = eco.consumer.received.at(-1);
    expect(got?.headers["content-type"]).toContain("application/x-ndjson");
    const lines = (got?.body ?? "")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l.vin)).toEqual(["VIN-1", "VIN-2"]);
    expect(got?.body).not.toContain("calibration");
    // An object goes as JSON, where the dataset keeps its records.
    const json = await provider.deliver(
      eco.agreement,
      { items: [RECORDS[0]] },
      { purpose: "insurance-pricing" },
    );
    expect(json.records).toBe(1);
    expect(eco.consumer.received.at(-1)?.headers["content-type"]).toContain("application/json");
  });
});

describe("problems", () => {
  it("throws the gateway's refusals as GatewayProblem with status, code and request id", async () => {
    const eco = await ecosystem();
    const consumer = clientFor(eco, eco.ids.consumer);
    const noPurpose = await consumer.read(eco.agreement).catch((e: unknown) => e);
    expect(noPurpose).toBeInstanceOf(GatewayProblem);
    expect(noPurpose).toMatchObject({ status: 403, code: "purpose_not_permitted" });
    expect((noPurpose as GatewayProblem).requestId).toMatch(/.+/);

    // A dot segment never leaves the client; a control character reaches the gateway's path check.
    await expect(
      consumer.read(eco.agreement, { purpose: "insurance-pricing", subpath: "../admin" }),
    ).rejects.toThrow(TypeError);
    const control = await consumer
      .read(eco.agreement, { purpose: "insurance-pricing", subpath: "a\u0001b" })
      .catch((e: unknown) => e);
    expect(control).toMatchObject({ status: 400, code: "invalid_path" });

    // The provider may not read: the token endpoint grants the scope, the exchange refuses.
    const provider = clientFor(eco, eco.ids.provider);
    expect(
      await provider.read(eco.agreement, { purpose: "insurance-pricing" }).catch((e: unknown) => e),
    ).toMatchObject({ status: 403, code: "not_party" });

    // Token endpoint errors keep their OAuth codes.
    expect(await consumer.read("agr-none").catch((e: unknown) => e)).toMatchObject({
      status: 400,
      code: "invalid_scope",
    });
    const wrong = clientFor(eco, eco.ids.consumer, { clientSecret: "not-the-secret" });
    expect(
      await wrong.read(eco.agreement, { purpose: "insurance-pricing" }).catch((e: unknown) => e),
    ).toMatchObject({ status: 401, code: "invalid_client" });
  });

  it("does not retry a leak: 502 leak_blocked is thrown at once", async () => {
    const eco = await ecosystem({
      providerHandler: (_req, res) => {
        res.writeHead(200, { "Content-Type": "application/json" });
        res.end(JSON.stringify({ items: [{ vin: "CAL-123456" }] }));
      },
    });
    const { seen, fetchFn } = recordingFetch();
    const consumer = clientFor(eco, eco.ids.consumer, { fetch: fetchFn });
    const leak = await consumer
      .read(eco.agreement, { purpose: "insurance-pricing" })
      .catch((e: unknown) => e);
    expect(leak).toMatchObject({ status: 502, code: "leak_blocked" });
    expect(seen.filter((s) => s.path.startsWith("/v1/exchange/")).length).toBe(1);
  });
});

describe("retries", () => {
  it("retries a read whose answer was lost with the same Idempotency-Key: served again, metered once", async () => {
    const eco = await ecosystem();
    let dropped = 0;
    const { seen, fetchFn } = recordingFetch(async (request, _n, real) => {
      const res = await real();
      if (new URL(request.url).pathname.startsWith("/v1/exchange/") && dropped === 0) {
        dropped++;
        await res.text();
        throw new TypeError("fetch failed: the connection was reset");
      }
      return res;
    });
    const consumer = clientFor(eco, eco.ids.consumer, {
      fetch: fetchFn,
      retry: { baseDelayMs: 10 },
    });
    const result = await consumer.read(eco.agreement, { purpose: "insurance-pricing" });
    expect(result.records).toBe(2);
    const reads = seen.filter((s) => s.path === `/v1/exchange/${eco.agreement}`);
    expect(reads.length).toBe(2);
    const keys = reads.map((r) => r.headers.get("Idempotency-Key"));
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(keys[1]).toBe(keys[0]);
    expect(result.idempotencyKey).toBe(keys[0]);
    // The flow counts one exchange.
    expect(await flowCount(eco.agreement)).toMatchObject({ requests: 1, records: 2 });
  });

  it("retries a deliver the same way: the consumer's backend may see it twice, finance once", async () => {
    const eco = await ecosystem();
    let dropped = false;
    const { seen, fetchFn } = recordingFetch(async (request, _n, real) => {
      const res = await real();
      if (request.method === "POST" && request.url.includes("/v1/exchange/") && !dropped) {
        dropped = true;
        await res.text();
        throw new TypeError("fetch failed");
      }
      return res;
    });
    const provider = clientFor(eco, eco.ids.provider, {
      fetch: fetchFn,
      retry: { baseDelayMs: 10 },
    });
    const result = await provider.deliver(eco.agreement, RECORDS, { purpose: "insurance-pricing" });
    expect(result.records).toBe(2);
    const posts = seen.filter((s) => s.method === "POST" && s.path.startsWith("/v1/exchange/"));
    expect(posts.map((p) => p.headers.get("Idempotency-Key"))).toEqual([
      result.idempotencyKey,
      result.idempotencyKey,
    ]);
    expect(await flowCount(eco.agreement)).toMatchObject({ requests: 1, records: 2 });
  });

  it("waits the Retry-After of a 503 before trying again", async () => {
    const eco = await ecosystem();
    let refused = false;
    const { seen, fetchFn } = recordingFetch(async (request, _n, real) => {
      if (request.url.includes("/v1/exchange/") && !refused) {
        refused = true;
        return new Response(
          JSON.stringify({ status: 503, code: "store_unavailable", detail: "busy" }),
          {
            status: 503,
            headers: { "Content-Type": "application/problem+json", "Retry-After": "1" },
          },
        );
      }
      return real();
    });
    const consumer = clientFor(eco, eco.ids.consumer, {
      fetch: fetchFn,
      retry: { baseDelayMs: 1 },
    });
    const started = Date.now();
    const result = await consumer.read(eco.agreement, { purpose: "insurance-pricing" });
    expect(result.records).toBe(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(seen.filter((s) => s.path.startsWith("/v1/exchange/")).length).toBe(2);
  });

  it("gives up at once on a 429 whose Retry-After is longer than it waits, and after its retries on 503s", async () => {
    const eco = await ecosystem({ agreement: { quota: { requestsPerDay: 1 } } });
    const consumer = clientFor(eco, eco.ids.consumer);
    await consumer.read(eco.agreement, { purpose: "insurance-pricing" });
    const started = Date.now();
    const over = await consumer
      .read(eco.agreement, { purpose: "insurance-pricing" })
      .catch((e: unknown) => e);
    expect(over).toMatchObject({ status: 429, code: "quota_exceeded" });
    expect((over as GatewayProblem).retryAfterMs).toBeGreaterThan(30_000);
    expect(Date.now() - started).toBeLessThan(2000);

    const { seen, fetchFn } = recordingFetch(async (request, _n, real) =>
      request.url.includes("/v1/exchange/")
        ? new Response(JSON.stringify({ status: 503, code: "metering_unavailable" }), {
            status: 503,
            headers: { "Content-Type": "application/problem+json" },
          })
        : real(),
    );
    const failing = clientFor(eco, eco.ids.consumer, {
      fetch: fetchFn,
      retry: { retries: 2, baseDelayMs: 5 },
    });
    expect(
      await failing.read(eco.agreement, { purpose: "insurance-pricing" }).catch((e: unknown) => e),
    ).toMatchObject({ status: 503, code: "metering_unavailable" });
    expect(seen.filter((s) => s.path.startsWith("/v1/exchange/")).length).toBe(3);
  });

  it("never retries a call that is not idempotent", async () => {
    const eco = await ecosystem();
    const { seen, fetchFn } = recordingFetch(async (request, _n, real) =>
      request.url.endsWith("/v1/agreement-requests")
        ? Promise.reject(new TypeError("fetch failed"))
        : real(),
    );
    const consumer = clientFor(eco, eco.ids.consumer, { fetch: fetchFn });
    const failed = await consumer.requestAgreement({ offer: "off-x" }).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(GatewayUnreachable);
    expect(seen.filter((s) => s.path === "/v1/agreement-requests").length).toBe(1);
  });
});

describe("tokens", () => {
  it("fetches one token per scope, shared by concurrent calls, and renews it once the gateway finds it expired", async () => {
    const eco = await ecosystem();
    const { seen, fetchFn } = recordingFetch();
    const consumer = clientFor(eco, eco.ids.consumer, { fetch: fetchFn });
    await Promise.all(
      Array.from({ length: 5 }, () =>
        consumer.read(eco.agreement, { purpose: "insurance-pricing" }),
      ),
    );
    const tokenCalls = () => seen.filter((s) => s.path === "/oauth/token");
    expect(tokenCalls().length).toBe(1);
    expect(tokenCalls()[0]?.headers.get("Authorization")).toMatch(/^Basic /);
    await consumer.read(eco.agreement, { purpose: "insurance-pricing" });
    expect(tokenCalls().length).toBe(1);

    // An hour later, for the gateway: the cached token has expired there.
    g.t.clock.offsetMs += 3_600_000;
    try {
      const result = await consumer.read(eco.agreement, { purpose: "insurance-pricing" });
      expect(result.records).toBe(2);
      expect(tokenCalls().length).toBe(2);
      const reads = seen.filter((s) => s.path.startsWith("/v1/exchange/"));
      const [refused, renewed] = reads.slice(-2).map((r) => r.headers.get("Authorization"));
      expect(refused).not.toBe(renewed);
    } finally {
      g.t.clock.offsetMs -= 3_600_000;
    }
  });
});

describe("token lifetimes", () => {
  it("renews a short-lived token before it expires, without a refusal first", async () => {
    const short = await serveGateway(2);
    try {
      const eco = await createEcosystem(short.t);
      ecosystems.push(eco);
      const { seen, fetchFn } = recordingFetch(async (_request, _n, real) => {
        const res = await real();
        expect(res.status, "no call is refused").not.toBe(401);
        return res;
      });
      const consumer = new GatewayClient({
        baseUrl: short.url,
        clientId: eco.ids.consumer,
        clientSecret: eco.secrets[eco.ids.consumer] ?? "",
        fetch: fetchFn,
      });
      await consumer.read(eco.agreement, { purpose: "insurance-pricing" });
      await consumer.read(eco.agreement, { purpose: "insurance-pricing" });
      const tokenCalls = () => seen.filter((s) => s.path === "/oauth/token").length;
      expect(tokenCalls()).toBe(1);
      // Half-way through its 2 s the token is renewed, before the gateway would refuse it.
      await new Promise((r) => setTimeout(r, 1200));
      await consumer.read(eco.agreement, { purpose: "insurance-pricing" });
      expect(tokenCalls()).toBe(2);
      expect(seen.filter((s) => s.path.startsWith("/v1/exchange/")).length).toBe(3);
    } finally {
      await short.close();
    }
  });
});

describe("self-service through the SDK", () => {
  it("offer, catalog, request, approval, first read", async () => {
    const eco = await ecosystem();
    const provider = clientFor(eco, eco.ids.provider);
    const consumer = clientFor(eco, eco.ids.consumer);
    const offer = await provider.publishOffer(eco.ids.dataset, {
      actions: ["read"],
      fields: ["vin", "mileage"],
      price: { currency: "EUR", perRecord: 1000 },
      durationDays: 30,
    });
    expect((await provider.offers(eco.ids.dataset)).map((o) => o.id)).toContain(offer.id);
    const entries = [];
    for await (const entry of consumer.catalogEntries(1)) entries.push(entry);
    const listed = entries.find((e) => e.dataset === eco.ids.dataset);
    expect(listed?.offers.map((o) => o.id)).toContain(offer.id);
    const ld = (await consumer.catalogJsonLd()) as { "@type": string };
    expect(ld["@type"]).toBe("dcat:Catalog");

    const asked = await consumer.requestAgreement({ offer: offer.id });
    expect(asked.state).toBe("requested");
    const pending = await provider.agreementRequests({ state: "requested", role: "provider" });
    expect(pending.items.map((r) => r.id)).toContain(asked.id);
    expect(await consumer.approveRequest(asked.id).catch((e: unknown) => e)).toMatchObject({
      status: 403,
      code: "not_party",
    });
    const approved = await provider.approveRequest(asked.id, "welcome");
    expect(approved.state).toBe("agreed");
    const agreement = approved.agreement ?? "";
    const read = await consumer.read(agreement);
    expect(read.json()).toEqual({
      items: RECORDS.map((r) => ({ vin: r.vin, mileage: r.mileage })),
    });
    expect((await consumer.agreements()).map((a) => a.id)).toContain(agreement);
    expect(await consumer.cancelRequest(asked.id).catch((e: unknown) => e)).toMatchObject({
      status: 409,
      code: "invalid_transition",
    });
    const withdrawn = await provider.withdrawOffer(eco.ids.dataset, offer.id, "done");
    expect(withdrawn.status).toBe("withdrawn");
  });
});
