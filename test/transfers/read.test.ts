/**
 * Read transfers end to end over real HTTP: the consumer starts one, the job
 * streams the provider's answer through the guard into s3rver, meters it
 * once, and the consumer pulls the cut body with plain curl from a
 * short-lived URL the gateway checks itself.
 */
import { createHash } from "node:crypto";
import type { ServerResponse } from "node:http";
import { gzipSync } from "node:zlib";
import { describe, expect } from "vitest";
import { bodyKey } from "../../functions/transfers/keys.ts";
import type { Handler } from "../support/backends.ts";
import { createTestGateway } from "../support/gateway.ts";
import {
  curl,
  flowTotals,
  it,
  objectsOf,
  PURPOSE,
  record,
  settled,
  startRead,
  type TransferFlow,
  type TransferGateway,
  transferFlow,
} from "./support.ts";

/** Bytes the provider's last answer held. */
let sent = 0;

/** Writes `count` NDJSON records (the last one as given), respecting backpressure. */
function ndjsonLines(count: number, last?: Record<string, unknown>): Handler {
  return async (_req, res: ServerResponse) => {
    res.writeHead(200, { "Content-Type": "application/x-ndjson" });
    sent = 0;
    let batch = "";
    for (let i = 0; i < count; i++) {
      const r = i === count - 1 && last !== undefined ? last : record(i);
      batch += `${JSON.stringify(r)}\n`;
      if (batch.length > 256 * 1024 || i === count - 1) {
        sent += Buffer.byteLength(batch);
        if (!res.write(batch)) await new Promise((r) => res.once("drain", r));
        batch = "";
      }
    }
    res.end();
  };
}

async function readTransfer(
  g: TransferGateway,
  flow: TransferFlow,
  headers: Record<string, string> = {},
) {
  const res = await startRead(g, flow.eco.agreement, flow.consumerToken, headers);
  const body = (await res.json()) as { id: string; state: string };
  return { res, body };
}

describe("read transfers", () => {
  it("moves 50 MiB of NDJSON end to end, cut, metered once, pulled with curl", async ({
    g,
    flow,
  }) => {
    const count = 400_000;
    flow.eco.provider.handler = ndjsonLines(count);
    const before = (await flowTotals(g, flow.eco.agreement))?.requests ?? 0;
    const { res, body } = await readTransfer(g, flow);
    expect(res.status).toBe(202);
    expect(res.headers.get("Location")).toBe(`/v1/transfers/${body.id}`);
    expect(body).toMatchObject({
      agreement: flow.eco.agreement,
      direction: "read",
      state: "running",
    });
    const done = await settled(g, body.id, flow.consumerToken);
    expect(done).toMatchObject({ state: "ready", records: count, code: null });
    expect(sent).toBeGreaterThanOrEqual(50 * 1024 * 1024);
    expect(typeof done.url).toBe("string");
    const expires = Date.parse(String(done.expiresAt));
    expect(expires - Date.now()).toBeLessThanOrEqual(300_000);
    const pulled = await curl([String(done.url)]);
    expect(pulled.status).toBe(200);
    expect(pulled.body.length).toBe(done.bytes);
    expect(createHash("sha256").update(pulled.body).digest("hex")).toBe(done.sha256);
    const text = pulled.body.toString("utf8");
    expect(text).not.toContain("CAL-");
    expect(text).not.toContain("license");
    const lines = text.split("\n").filter((l) => l !== "");
    expect(lines.length).toBe(count);
    expect(JSON.parse(lines[count - 1] ?? "")).toEqual({
      vin: `VIN-${count - 1}`,
      mileage: count - 1,
      speed: { avg: (count - 1) % 120 },
      driver: { name: `Driver ${count - 1}` },
    });
    const row = await flowTotals(g, flow.eco.agreement);
    expect(row?.requests).toBe(before + 1);
    // The staging object is gone; only the body is kept.
    expect(await objectsOf(g, body.id)).toEqual([bodyKey(body.id, 1)]);
    // The provider saw one call (the job), with the gateway's JWT.
    expect(flow.eco.provider.received.at(-1)?.headers.authorization).toMatch(/^Bearer /);
    // The provider is not given the URL.
    const asProvider = await g.http("GET", `/v1/transfers/${body.id}`, {
      token: flow.providerToken,
    });
    expect(await asProvider.json()).toMatchObject({ state: "ready", url: null });
  }, 120_000);

  it("cuts CSV and gzip JSON answers", async ({ g, flow }) => {
    flow.eco.provider.handler = (_req, res) => {
      res.writeHead(200, { "Content-Type": "text/csv" });
      res.end("vin,mileage,engine.calibration\r\nV1,5,CAL-000001\r\nV2,6,CAL-000002\r\n");
    };
    const csv = await readTransfer(g, flow);
    const csvDone = await settled(g, csv.body.id, flow.consumerToken);
    expect(csvDone).toMatchObject({ state: "ready", records: 2 });
    expect(String(csvDone.contentType)).toMatch(/^text\/csv/);
    const csvBody = (await curl([String(csvDone.url)])).body.toString();
    expect(csvBody).toContain("V1");
    expect(csvBody).not.toContain("CAL-");

    flow.eco.provider.handler = (_req, res) => {
      res.writeHead(200, { "Content-Type": "application/json", "Content-Encoding": "gzip" });
      res.end(gzipSync(JSON.stringify({ items: [record(1), record(2), record(3)] })));
    };
    const gz = await readTransfer(g, flow);
    const gzDone = await settled(g, gz.body.id, flow.consumerToken);
    expect(gzDone).toMatchObject({ state: "ready", records: 3 });
    const gzBody = JSON.parse((await curl([String(gzDone.url)])).body.toString()) as {
      items: unknown[];
    };
    expect(gzBody.items).toHaveLength(3);
    expect(JSON.stringify(gzBody)).not.toContain("CAL-");
  });

  it("blocks a marker in the last record: nothing kept, blocked counted once, audited", async ({
    g,
    flow,
  }) => {
    flow.eco.provider.handler = ndjsonLines(20_000, { ...record(0), vin: "CAL-999999" });
    const before = (await flowTotals(g, flow.eco.agreement))?.blocked ?? 0;
    const { body } = await readTransfer(g, flow);
    const done = await settled(g, body.id, flow.consumerToken);
    expect(done).toMatchObject({ state: "blocked", code: "leak_blocked", url: null });
    expect(await objectsOf(g, body.id)).toEqual([]);
    // Reading it again changes nothing and counts nothing more.
    await settled(g, body.id, flow.consumerToken);
    expect((await flowTotals(g, flow.eco.agreement))?.blocked).toBe(before + 1);
    const audit = await g.t.admin("GET", `/admin/audit?action=transfer.leak_blocked`);
    const entries = ((await audit.json()) as { items: { action: string; details: unknown }[] })
      .items;
    const mine = entries.filter((e) => JSON.stringify(e.details).includes(body.id));
    expect(mine).toHaveLength(1);
    expect(JSON.stringify(mine)).not.toContain("CAL-999999");
  });

  it("gives the same transfer for the same Idempotency-Key (200), metered once", async ({
    g,
    flow,
  }) => {
    flow.eco.provider.handler = ndjsonLines(10);
    const before = (await flowTotals(g, flow.eco.agreement))?.requests ?? 0;
    const first = await readTransfer(g, flow, { "Idempotency-Key": "same-key-1" });
    expect(first.res.status).toBe(202);
    await settled(g, first.body.id, flow.consumerToken);
    const again = await readTransfer(g, flow, { "Idempotency-Key": "same-key-1" });
    expect(again.res.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    await g.dispatcher.idle();
    expect((await flowTotals(g, flow.eco.agreement))?.requests).toBe(before + 1);
    const list = await g.http("GET", `/v1/transfers?agreement=${flow.eco.agreement}`, {
      token: flow.consumerToken,
    });
    const items = ((await list.json()) as { items: { id: string }[] }).items;
    expect(items.filter((i) => i.id === first.body.id)).toHaveLength(1);
  });

  it("refuses a URL whose signature, key or expiry was altered", async ({ g, flow }) => {
    flow.eco.provider.handler = ndjsonLines(5);
    const { body } = await readTransfer(g, flow);
    const done = await settled(g, body.id, flow.consumerToken);
    const url = new URL(String(done.url));
    expect((await curl([url.toString()])).status).toBe(200);
    const sig = url.searchParams.get("X-Amz-Signature") ?? "";
    const tampered = new URL(url);
    tampered.searchParams.set(
      "X-Amz-Signature",
      `${sig.slice(0, -1)}${sig.endsWith("0") ? "1" : "0"}`,
    );
    const otherKey = new URL(url.toString().replace(`${body.id}/body-1`, `${body.id}/staging-1`));
    const longer = new URL(url);
    longer.searchParams.set("X-Amz-Expires", "3600");
    for (const u of [tampered, otherKey, longer]) {
      const r = await curl([u.toString()]);
      expect(r.status).toBe(403);
      expect(JSON.parse(r.body.toString())).toMatchObject({ code: "url_refused" });
    }
    g.t.clock.offsetMs = 301_000;
    try {
      const late = await curl([url.toString()]);
      expect(late.status).toBe(403);
    } finally {
      g.t.clock.offsetMs = 0;
    }
  });

  it("ends over quota as failed quota_exceeded, nothing kept", async ({ g }) => {
    const small = await transferFlow(g, { agreement: { quota: { recordsPerMonth: 5 } } });
    try {
      small.eco.provider.handler = ndjsonLines(6);
      const res = await startRead(g, small.eco.agreement, small.consumerToken);
      const { id } = (await res.json()) as { id: string };
      const done = await settled(g, id, small.consumerToken);
      expect(done).toMatchObject({ state: "failed", code: "quota_exceeded", url: null });
      expect(await objectsOf(g, id)).toEqual([]);
    } finally {
      await small.eco.close();
    }
  });

  it("never issues a URL that outlives the agreement's term", async ({ g }) => {
    const validUntil = new Date(Date.now() + 60_000).toISOString();
    const ending = await transferFlow(g, { agreement: { validUntil } });
    try {
      ending.eco.provider.handler = ndjsonLines(3);
      const res = await startRead(g, ending.eco.agreement, ending.consumerToken);
      const { id } = (await res.json()) as { id: string };
      const done = await settled(g, id, ending.consumerToken);
      expect(done).toMatchObject({ state: "ready", records: 3 });
      expect(Date.parse(String(done.expiresAt))).toBeLessThanOrEqual(Date.parse(validUntil));
      expect(String(done.url)).toMatch(/X-Amz-Expires=(\d|[1-5]\d|60)&/);
    } finally {
      await ending.eco.close();
    }
  });

  it("fails with the exchange's codes when the provider fails", async ({ g, flow }) => {
    flow.eco.provider.handler = (_req, res) => {
      res.writeHead(500, { "Content-Type": "application/json" });
      res.end('{"error":"CAL-111111"}');
    };
    const { body } = await readTransfer(g, flow);
    expect(await settled(g, body.id, flow.consumerToken)).toMatchObject({
      state: "failed",
      code: "upstream_error",
    });
    flow.eco.provider.handler = (_req, res) => {
      res.writeHead(200, { "Content-Type": "application/octet-stream" });
      res.end("binary");
    };
    const bin = await readTransfer(g, flow);
    expect(await settled(g, bin.body.id, flow.consumerToken)).toMatchObject({
      state: "failed",
      code: "uninspectable_content",
    });
  });

  it("asks for the agreement's scope and a purpose, as an exchange", async ({ g, flow }) => {
    const other = await g.t.token(flow.eco.ids.consumer, ["agreement:agr-other"]);
    const noScope = await startRead(g, flow.eco.agreement, other);
    expect(noScope.status).toBe(403);
    expect(await noScope.json()).toMatchObject({ code: "scope_missing" });
    const noPurpose = await g.http("POST", "/v1/transfers", {
      token: flow.consumerToken,
      body: { agreement: flow.eco.agreement },
    });
    expect(noPurpose.status).toBe(403);
    expect(await noPurpose.json()).toMatchObject({ code: "purpose_not_permitted" });
    const provider = await startRead(g, flow.eco.agreement, flow.providerToken);
    expect(await provider.json()).toMatchObject({ code: "not_party" });
    void PURPOSE;
  });
});

describe("without transfer storage", () => {
  it("starts no transfer and opens no upload (fail closed: 503)", async () => {
    const t = await createTestGateway();
    const token = await t.token("someone", ["agreement:agr-x"]);
    for (const [path, body] of [
      ["/v1/transfers", { agreement: "agr-x" }],
      ["/v1/uploads", { agreement: "agr-x", contentType: "text/csv" }],
    ] as const) {
      const res = await t.call("POST", path, { token, body });
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ code: "store_unavailable" });
    }
  });
});
