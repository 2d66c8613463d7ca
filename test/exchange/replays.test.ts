/**
 * Issue 19, the read's side doors through the public surface: a retry with
 * the same Idempotency-Key answers the first body (a provider that answers
 * differently on every call), terms that change while the provider holds its
 * answer are applied before the release, and a caller that hangs up is not
 * billed (a real socket to the node server).
 */
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../functions/log.ts";
import type { S3ObjectStore } from "../../functions/store/objects.ts";
import { serve } from "../hardening/raw-http.ts";
import { flowRowsOf, problem } from "../metering/support.ts";
import { createEcosystem, type Ecosystem, RECORDS } from "../support/ecosystem.ts";
import { createTestGateway, createTestObjectStore, type TestGateway } from "../support/gateway.ts";

let t: TestGateway;
let objects: S3ObjectStore;
const logged: { code: string; requestId?: string }[] = [];
const ecosystems: Ecosystem[] = [];

beforeAll(async () => {
  objects = await createTestObjectStore();
  t = await createTestGateway({
    objects,
    log: createLogger({ write: (line) => logged.push(JSON.parse(line)) }),
  });
});
afterAll(async () => {
  for (const e of ecosystems) await e.close();
});

async function ecosystem(options: Parameters<typeof createEcosystem>[1] = {}) {
  const e = await createEcosystem(t, options);
  ecosystems.push(e);
  let calls = 0;
  e.provider.handler = (_req, res) => {
    calls++;
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ items: RECORDS.map((r) => ({ ...r, mileage: r.mileage + calls })) }));
  };
  return e;
}

const read = (e: Ecosystem, token: string, headers: Record<string, string> = {}) =>
  t.call("GET", `/v1/exchange/${e.agreement}`, {
    token,
    headers: { "Data-Purpose": "insurance-pricing", ...headers },
  });

/** Holds the provider's answers until `release()`; `arrived` resolves when one is waiting. */
function hold(e: Ecosystem) {
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  let arrived!: () => void;
  const waiting = new Promise<void>((r) => {
    arrived = r;
  });
  const answer = e.provider.handler;
  e.provider.handler = async (req, res) => {
    arrived();
    await gate;
    await answer(req, res);
  };
  return { waiting, release };
}

describe("a read retried with the same Idempotency-Key", () => {
  it("answers the first body byte for byte without calling the provider, metered once", async () => {
    const e = await ecosystem();
    const token = await e.partnerToken(e.ids.consumer);
    const answers = [];
    for (let i = 0; i < 4; i++) {
      const res = await read(e, token, { "Idempotency-Key": "once-only" });
      expect(res.status).toBe(200);
      answers.push({
        body: await res.text(),
        records: res.headers.get("X-Records"),
        type: res.headers.get("Content-Type"),
      });
    }
    expect(new Set(answers.map((a) => JSON.stringify(a))).size).toBe(1);
    expect(answers[0]?.body).toContain('"mileage":1001');
    expect(e.provider.received).toHaveLength(1);
    // Without the key, the same read is a new exchange: the provider's new answer.
    const fresh = await read(e, token);
    expect(await fresh.text()).toContain('"mileage":1002');
    const [row] = await flowRowsOf(t, e.agreement);
    expect(row).toMatchObject({ requests: 2, records: 4 });
    expect(row?.bytes).toBe(2 * Buffer.byteLength(answers[0]?.body ?? ""));
  });

  it("answers concurrent twins with one body, metered once", async () => {
    const e = await ecosystem();
    const token = await e.partnerToken(e.ids.consumer);
    const results = await Promise.all(
      Array.from({ length: 6 }, () => read(e, token, { "Idempotency-Key": "twins" })),
    );
    expect(results.map((r) => r.status)).toEqual(Array(6).fill(200));
    const bodies = await Promise.all(results.map((r) => r.text()));
    expect(new Set(bodies).size).toBe(1);
    expect((await flowRowsOf(t, e.agreement))[0]).toMatchObject({ requests: 1, records: 2 });
  });

  it("re-checks status first: a revoked consumer gets its 403, not the kept body", async () => {
    const e = await ecosystem();
    const token = await e.partnerToken(e.ids.consumer);
    expect((await read(e, token, { "Idempotency-Key": "k-1" })).status).toBe(200);
    await t.admin("POST", `/admin/partners/${e.ids.consumer}/revoke`, { reason: "test" });
    const retry = await read(e, token, { "Idempotency-Key": "k-1" });
    expect(retry.status).toBe(403);
    expect(await problem(retry)).toMatchObject({ code: "partner_revoked" });
  });

  it("is decided, fetched, cut and metered anew when the agreement changed since", async () => {
    const e = await ecosystem();
    const token = await e.partnerToken(e.ids.consumer);
    const first = await read(e, token, { "Idempotency-Key": "k-2" });
    expect(await first.text()).toContain("mileage");
    const amended = await t.admin("PATCH", `/admin/agreements/${e.agreement}`, {
      fields: ["vin", "speed.avg"],
    });
    expect(amended.status).toBe(200);
    const retry = await read(e, token, { "Idempotency-Key": "k-2" });
    expect(retry.status).toBe(200);
    expect(await retry.text()).not.toContain("mileage");
    expect(e.provider.received).toHaveLength(2);
    // And the new answer is what a further retry gets.
    const again = await read(e, token, { "Idempotency-Key": "k-2" });
    expect(await again.text()).not.toContain("mileage");
    expect(e.provider.received).toHaveLength(2);
    expect((await flowRowsOf(t, e.agreement))[0]).toMatchObject({ requests: 2 });
  });

  it("keeps a large body sealed in the object store, and deletes it when the claim is replaced", async () => {
    const big = await createTestGateway({
      objects,
      settings: { ...t.gw.settings, replayInlineMaxBytes: 64 },
    });
    const e = await createEcosystem(big);
    ecosystems.push(e);
    const token = await e.partnerToken(e.ids.consumer);
    const read1 = await big.call("GET", `/v1/exchange/${e.agreement}`, {
      token,
      headers: { "Data-Purpose": "insurance-pricing", "Idempotency-Key": "big-1" },
    });
    const body = await read1.text();
    const kept = (await objects.list(`replays/${e.agreement}/`, "test")).map((o) => o.key);
    expect(kept).toHaveLength(1);
    const sealed = Buffer.from((await objects.get(kept[0] ?? "", "test")) ?? []);
    expect(sealed.includes(Buffer.from("VIN-1"))).toBe(false);
    const retry = await big.call("GET", `/v1/exchange/${e.agreement}`, {
      token,
      headers: { "Data-Purpose": "insurance-pricing", "Idempotency-Key": "big-1" },
    });
    expect(await retry.text()).toBe(body);
    expect(e.provider.received).toHaveLength(1);
    await big.admin("PATCH", `/admin/agreements/${e.agreement}`, { fields: ["vin"] });
    const anew = await big.call("GET", `/v1/exchange/${e.agreement}`, {
      token,
      headers: { "Data-Purpose": "insurance-pricing", "Idempotency-Key": "big-1" },
    });
    expect(anew.status).toBe(200);
    const now = (await objects.list(`replays/${e.agreement}/`, "test")).map((o) => o.key);
    expect(now).toHaveLength(1);
    expect(now[0]).not.toBe(kept[0]);
  });
});

describe("terms that change while the provider holds its answer", () => {
  it("an amendment narrowing fields: the held answer is cut again under the new terms", async () => {
    const e = await ecosystem();
    const token = await e.partnerToken(e.ids.consumer);
    const held = hold(e);
    const pending = read(e, token);
    await held.waiting;
    const amended = await t.admin("PATCH", `/admin/agreements/${e.agreement}`, {
      fields: ["vin", "speed.avg"],
    });
    expect(amended.status).toBe(200);
    held.release();
    const res = await pending;
    expect(res.status).toBe(200);
    const body = await res.text();
    expect(body).toContain("VIN-1");
    expect(body).not.toContain("mileage");
    expect(body).not.toContain("Anna");
    expect(e.provider.received).toHaveLength(1);
    expect((await flowRowsOf(t, e.agreement))[0]).toMatchObject({ requests: 1, records: 2 });
  });

  it("a core marker added to the dataset: the held answer is blocked", async () => {
    const e = await ecosystem();
    const token = await e.partnerToken(e.ids.consumer);
    const dataset = await (await t.admin("GET", `/admin/datasets/${e.ids.dataset}`)).json();
    const held = hold(e);
    const pending = read(e, token);
    await held.waiting;
    const {
      version: _v,
      createdAt: _c,
      updatedAt: _u,
      ...input
    } = dataset as Record<string, unknown>;
    const changed = await t.admin("PUT", `/admin/datasets/${e.ids.dataset}`, {
      ...input,
      coreMarkers: ["CAL-[0-9]{6}", "VIN-[0-9]"],
    });
    expect(changed.status).toBe(200);
    held.release();
    const res = await pending;
    expect(res.status).toBe(502);
    expect(await problem(res)).toMatchObject({ code: "leak_blocked" });
    expect((await flowRowsOf(t, e.agreement))[0]).toMatchObject({ requests: 0, blocked: 1 });
  });

  it("a denied party added to the trade rules: the held answer is refused", async () => {
    const e = await ecosystem();
    const token = await e.partnerToken(e.ids.consumer);
    const before = await (await t.admin("GET", "/admin/trade-rules")).json();
    const held = hold(e);
    const pending = read(e, token);
    await held.waiting;
    const set = await t.admin("PUT", "/admin/trade-rules", { deniedParties: [e.ids.consumer] });
    expect(set.status).toBe(200);
    try {
      held.release();
      const res = await pending;
      expect(res.status).toBe(451);
      expect(await problem(res)).toMatchObject({ code: "jurisdiction_blocked" });
      expect((await flowRowsOf(t, e.agreement))[0]).toMatchObject({ requests: 0, denied: 1 });
    } finally {
      const { embargoedJurisdictions, deniedParties } = before as Record<string, string[]>;
      await t.admin("PUT", "/admin/trade-rules", { embargoedJurisdictions, deniedParties });
    }
  });
});

describe("a caller that hangs up before the release", () => {
  it("is not metered (a real socket to the node server)", async () => {
    const e = await ecosystem();
    const token = await e.partnerToken(e.ids.consumer);
    const srv = await serve(t);
    try {
      const held = hold(e);
      const socket = connect(srv.port, "127.0.0.1");
      await new Promise<void>((r) => socket.once("connect", () => r()));
      socket.write(
        `GET /v1/exchange/${e.agreement} HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
          `Authorization: Bearer ${token}\r\nData-Purpose: insurance-pricing\r\n\r\n`,
      );
      await held.waiting;
      socket.destroy();
      await new Promise((r) => setTimeout(r, 50));
      held.release();
      for (let i = 0; i < 100 && !logged.some((l) => l.code === "caller_disconnected"); i++)
        await new Promise((r) => setTimeout(r, 50));
      expect(logged.some((l) => l.code === "caller_disconnected")).toBe(true);
      expect(await flowRowsOf(t, e.agreement)).toEqual([]);
      // The same read by a caller that waits is served and metered.
      expect((await read(e, token)).status).toBe(200);
      expect((await flowRowsOf(t, e.agreement))[0]).toMatchObject({ requests: 1 });
    } finally {
      await srv.close();
    }
  });
});
