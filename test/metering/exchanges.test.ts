/**
 * Metering of single exchanges through the app: Idempotency-Key retries,
 * delivers the consumer's backend refuses, the price of the version in force,
 * a status change while the backend answers, and caller-chosen request ids.
 */
import { describe, expect } from "vitest";
import { json } from "../support/backends.ts";
import { type Ecosystem, RECORDS } from "../support/ecosystem.ts";
import type { TestGateway } from "../support/gateway.ts";
import { flowRowsOf, getJson, meteringTest as it, problem, reconcile } from "./support.ts";

const read = (t: TestGateway, e: Ecosystem, token: string, headers: Record<string, string> = {}) =>
  t.call("GET", `/v1/exchange/${e.agreement}`, {
    token,
    headers: { "Data-Purpose": "insurance-pricing", ...headers },
  });

const deliver = (
  t: TestGateway,
  e: Ecosystem,
  token: string,
  headers: Record<string, string> = {},
) =>
  t.call("POST", `/v1/exchange/${e.agreement}`, {
    token,
    body: { items: RECORDS },
    headers: { "Data-Purpose": "insurance-pricing", ...headers },
  });

/** The partner's own view of its agreement's quota use. */
async function quotaUsed(t: TestGateway, e: Ecosystem, token: string) {
  const body = await getJson<{
    items: { id: string; quotaUsed: { requestsToday: number; recordsThisMonth: number } }[];
  }>(t, "/v1/agreements", token);
  return body.items.find((a) => a.id === e.agreement)?.quotaUsed;
}

describe("Idempotency-Key", () => {
  it("answers sequential retries with the first body, calling the provider once, metered once", async ({
    t,
    ecosystem,
  }) => {
    const e = await ecosystem();
    const token = await e.partnerToken(e.ids.consumer);
    const bodies: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await read(t, e, token, { "Idempotency-Key": "order-42" });
      expect(res.status).toBe(200);
      expect(res.headers.get("X-Records")).toBe("2");
      bodies.push(await res.text());
    }
    expect(new Set(bodies).size).toBe(1);
    expect(e.provider.received).toHaveLength(1);
    const [row] = await flowRowsOf(t, e.agreement);
    expect(row).toMatchObject({ requests: 1, records: 2, denied: 0 });
    expect(row?.bytes).toBe(Buffer.byteLength(bodies[0] ?? ""));
    // Another key is another exchange.
    expect((await read(t, e, token, { "Idempotency-Key": "order-43" })).status).toBe(200);
    expect((await flowRowsOf(t, e.agreement))[0]).toMatchObject({ requests: 2, records: 4 });
  });

  it("serves concurrent retries and meters them once", async ({ t, ecosystem }) => {
    const e = await ecosystem();
    const token = await e.partnerToken(e.ids.consumer);
    const results = await Promise.all(
      Array.from({ length: 12 }, () => read(t, e, token, { "Idempotency-Key": "burst-1" })),
    );
    expect(results.map((r) => r.status)).toEqual(Array(12).fill(200));
    const [row] = await flowRowsOf(t, e.agreement);
    expect(row).toMatchObject({ requests: 1, records: 2 });
    expect(await reconcile(t)).toMatchObject({ consistent: true });
  });

  it("serves a retry even when the quota is used up, and refuses a new exchange", async ({
    t,
    ecosystem,
  }) => {
    const e = await ecosystem({ agreement: { quota: { requestsPerDay: 1 } } });
    const token = await e.partnerToken(e.ids.consumer);
    expect((await read(t, e, token, { "Idempotency-Key": "only-one" })).status).toBe(200);
    expect((await read(t, e, token, { "Idempotency-Key": "only-one" })).status).toBe(200);
    const fresh = await read(t, e, token, { "Idempotency-Key": "another" });
    expect(fresh.status).toBe(429);
    expect(await problem(fresh)).toMatchObject({ code: "quota_exceeded" });
    expect((await flowRowsOf(t, e.agreement))[0]).toMatchObject({ requests: 1, denied: 1 });
  });

  it("does not let a read's key stand for a deliver on the same agreement", async ({
    t,
    ecosystem,
  }) => {
    const e = await ecosystem();
    const consumer = await e.partnerToken(e.ids.consumer);
    const provider = await e.partnerToken(e.ids.provider);
    expect((await read(t, e, consumer, { "Idempotency-Key": "shared-key" })).status).toBe(200);
    expect((await deliver(t, e, provider, { "Idempotency-Key": "shared-key" })).status).toBe(200);
    expect((await flowRowsOf(t, e.agreement))[0]).toMatchObject({ requests: 2, records: 4 });
  });
});

describe("Idempotency-Key on a different request", () => {
  // The exchange service passes a fingerprint of the request to the meter
  // (see docs/metering.md, "Idempotency-Key"): the second read below, for
  // other data, is a new exchange, not a retry of the first.
  it("is a different exchange: served and counted", async ({ t, ecosystem }) => {
    const e = await ecosystem();
    const token = await e.partnerToken(e.ids.consumer);
    expect((await read(t, e, token, { "Idempotency-Key": "reused" })).status).toBe(200);
    const other = await t.call("GET", `/v1/exchange/${e.agreement}/VIN-2?fields=all`, {
      token,
      headers: { "Data-Purpose": "insurance-pricing", "Idempotency-Key": "reused" },
    });
    expect(other.status).toBe(200);
    expect(e.provider.received.map((r) => r.url)).toEqual([
      "/telemetry",
      "/telemetry/VIN-2?fields=all",
    ]);
    expect((await flowRowsOf(t, e.agreement))[0]).toMatchObject({ requests: 2, records: 4 });
  });
});

describe("deliver", () => {
  it("is not counted when the consumer's backend refuses it, and its quota is given back", async ({
    t,
    ecosystem,
  }) => {
    const e = await ecosystem({ agreement: { quota: { requestsPerDay: 1, recordsPerMonth: 2 } } });
    const provider = await e.partnerToken(e.ids.provider);
    e.consumer.handler = json({ error: "inbox down" }, 500);
    const refused = await deliver(t, e, provider, { "Idempotency-Key": "batch-7" });
    expect(refused.status).toBe(502);
    expect(await problem(refused)).toMatchObject({ code: "upstream_error" });
    expect(e.consumer.received).toHaveLength(1);
    expect((await flowRowsOf(t, e.agreement))[0]).toMatchObject({
      requests: 0,
      records: 0,
      bytes: 0,
      value: { currency: "EUR", amount: 0 },
    });
    expect(await quotaUsed(t, e, provider)).toMatchObject({
      requestsToday: 0,
      recordsThisMonth: 0,
    });

    // The same key names an exchange that did not happen: once accepted, it counts.
    e.consumer.handler = json({ accepted: true });
    const accepted = await deliver(t, e, provider, { "Idempotency-Key": "batch-7" });
    expect(accepted.status).toBe(200);
    expect(await accepted.json()).toEqual({ delivered: true, records: 2 });
    const [row] = await flowRowsOf(t, e.agreement);
    expect(row).toMatchObject({ requests: 1, records: 2, value: { amount: 100 + 2 * 2000 } });
    expect(await quotaUsed(t, e, provider)).toMatchObject({
      requestsToday: 1,
      recordsThisMonth: 2,
    });
    // The quota (one a day) is now really used.
    const over = await deliver(t, e, provider, { "Idempotency-Key": "batch-8" });
    expect(over.status).toBe(429);
    expect(await reconcile(t)).toMatchObject({ consistent: true, differences: [] });
  });
});

describe("value", () => {
  it("prices each exchange at the version in force, one row per currency", async ({
    t,
    ecosystem,
  }) => {
    const e = await ecosystem({
      agreement: { price: { currency: "EUR", perRequest: 100, perRecord: 2000 } },
    });
    const token = await e.partnerToken(e.ids.consumer);
    expect((await read(t, e, token)).status).toBe(200);
    const amend = async (price: unknown, version: number) => {
      const res = await t.admin("PATCH", `/admin/agreements/${e.agreement}`, {
        price,
        reason: "repricing",
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ version });
    };
    await amend({ currency: "EUR", perRequest: 500, perRecord: 10 }, 2);
    expect((await read(t, e, token)).status).toBe(200);
    expect((await read(t, e, token)).status).toBe(200);
    await amend({ currency: "USD", perRequest: 7, perRecord: 3 }, 3);
    expect((await read(t, e, token)).status).toBe(200);

    const rows = await flowRowsOf(t, e.agreement);
    const byCurrency = Object.fromEntries(rows.map((r) => [r.value.currency, r]));
    expect(rows).toHaveLength(2);
    // Two records each: v1 100 + 2 x 2000; v2 twice 500 + 2 x 10; v3 7 + 2 x 3.
    expect(byCurrency.EUR).toMatchObject({
      requests: 3,
      records: 6,
      value: { currency: "EUR", amount: 100 + 2 * 2000 + 2 * (500 + 2 * 10) },
    });
    expect(byCurrency.USD).toMatchObject({
      requests: 1,
      records: 2,
      value: { currency: "USD", amount: 7 + 2 * 3 },
    });
    expect(await reconcile(t)).toMatchObject({ consistent: true });
  });
});

describe("status re-checked in the metering write", () => {
  it("releases and counts nothing when the consumer is revoked while the provider answers", async ({
    t,
    ecosystem,
  }) => {
    const e = await ecosystem();
    const token = await e.partnerToken(e.ids.consumer);
    e.provider.handler = async (_req, res) => {
      const revoked = await t.admin("POST", `/admin/partners/${e.ids.consumer}/revoke`, {
        reason: "revoked mid-flight",
      });
      expect(revoked.status).toBe(200);
      json({ items: RECORDS })(_req, res);
    };
    const res = await read(t, e, token);
    expect(res.status).toBe(403);
    const body = await res.text();
    expect(body).toContain("partner_revoked");
    expect(body).not.toContain("VIN-");
    expect((await flowRowsOf(t, e.agreement))[0]).toMatchObject({
      requests: 0,
      records: 0,
      denied: 1,
    });
  });
});

describe("X-Request-Id", () => {
  it("is the gateway's own, never the caller's, and not the metering key: all counted", async ({
    t,
    ecosystem,
  }) => {
    const e = await ecosystem();
    const token = await e.partnerToken(e.ids.consumer);
    // Keyed by the caller's request id (over the 16 event shards there once
    // were), two of these would share an event key and one would go uncounted.
    const n = 20;
    const ids = new Set<string>();
    for (let i = 0; i < n; i++) {
      const res = await read(t, e, token, { "X-Request-Id": "same-request-id-every-time" });
      expect(res.status).toBe(200);
      ids.add(res.headers.get("X-Request-Id") ?? "");
    }
    expect(ids.has("same-request-id-every-time")).toBe(false);
    expect(ids.size).toBe(n);
    const sent = e.provider.received.map((r) => r.headers["x-request-id"]);
    expect(new Set(sent)).toEqual(ids);
    expect((await flowRowsOf(t, e.agreement))[0]).toMatchObject({ requests: n, records: 2 * n });
  });
});
