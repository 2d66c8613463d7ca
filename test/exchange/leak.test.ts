/**
 * The leak guard in the exchange path, both directions: blocks are refused,
 * audited (never with the value) and counted; bodies the gateway cannot
 * inspect are refused; compressed answers are decoded and cut.
 */
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { json } from "../support/backends.ts";
import { createEcosystem, type Ecosystem, RECORDS } from "../support/ecosystem.ts";
import { createTestGateway, type TestGateway } from "../support/gateway.ts";

let t: TestGateway;
let eco: Ecosystem;
let consumerToken: string;
let providerToken: string;

beforeAll(async () => {
  t = await createTestGateway();
  eco = await createEcosystem(t, { agreement: { pseudonymize: ["driver.name"] } });
  consumerToken = await eco.partnerToken(eco.ids.consumer);
  providerToken = await eco.partnerToken(eco.ids.provider);
});
afterAll(() => eco.close());

const read = () =>
  t.call("GET", `/v1/exchange/${eco.agreement}`, {
    token: consumerToken,
    headers: { "Data-Purpose": "insurance-pricing" },
  });

const deliver = (body: string, contentType = "application/json") =>
  t.call("POST", `/v1/exchange/${eco.agreement}`, {
    token: providerToken,
    headers: { "Data-Purpose": "insurance-pricing", "Content-Type": contentType },
    body,
  });

async function flowRow() {
  const finance = await t.token("finance", ["metrics:read"]);
  const res = await t.call("GET", "/metrics/flows?granularity=total", { token: finance });
  const items = (
    (await res.json()) as {
      items: { agreement: string; requests: number; blocked: number; denied: number }[];
    }
  ).items;
  return items.find((r) => r.agreement === eco.agreement);
}

describe("leak guard in the exchange", () => {
  it("pseudonymizes granted personal fields, stably within the agreement", async () => {
    eco.provider.handler = json({ items: RECORDS });
    const a = (await (await read()).json()) as { items: { driver: { name: string } }[] };
    const b = (await (await read()).json()) as { items: { driver: { name: string } }[] };
    const name = a.items[0]?.driver.name ?? "";
    expect(name).toMatch(/^ps_[A-Za-z0-9_-]{22}$/);
    expect(name).not.toContain("Anna");
    expect(b.items[0]?.driver.name).toBe(name);
    expect(a.items[1]?.driver.name).not.toBe(name);
  });

  it("refuses an answer holding a core marker in a granted field: 502 leak_blocked, audited without the value, counted", async () => {
    const before = (await flowRow())?.blocked ?? 0;
    eco.provider.handler = json({ items: [{ vin: "CAL-999999", mileage: 1 }] });
    const res = await read();
    expect(res.status).toBe(502);
    const body = await res.text();
    expect(JSON.parse(body)).toMatchObject({ code: "leak_blocked" });
    expect(body).not.toContain("CAL-999999");
    const audit = await t.admin(
      "GET",
      `/admin/audit?action=exchange.leak_blocked&partner=${eco.ids.consumer}`,
    );
    const entries = (
      (await audit.json()) as { items: { details: Record<string, unknown>; target: string }[] }
    ).items;
    expect(entries[0]?.target).toBe(`agreement:${eco.agreement}`);
    expect(entries[0]?.details).toMatchObject({
      dataset: eco.ids.dataset,
      rule: "core_marker",
      marker: 0,
      path: "vin",
    });
    expect(JSON.stringify(entries)).not.toContain("CAL-999999");
    expect((await flowRow())?.blocked).toBe(before + 1);
  });

  it("does not trigger on a core field that is cut away", async () => {
    eco.provider.handler = json({ items: [{ vin: "V", engine: { calibration: "CAL-123456" } }] });
    const res = await read();
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ items: [{ vin: "V" }] });
  });

  it("decodes a gzip answer and cuts it", async () => {
    eco.provider.handler = (_req, res) => {
      res.writeHead(200, { "Content-Type": "application/json", "Content-Encoding": "gzip" });
      res.end(gzipSync(JSON.stringify({ items: RECORDS })));
    };
    const res = await read();
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Encoding")).toBeNull();
    expect(res.headers.get("X-Records")).toBe("2");
  });

  it.each([
    ["an uninspectable type", "application/octet-stream", "binary"],
    ["HTML", "text/html", "<html></html>"],
    ["JSON that does not parse", "application/json", '{"items": [ {"vin": "x" '],
    ["JSON too deep", "application/json", `${"[".repeat(5000)}${"]".repeat(5000)}`],
  ])("refuses %s from the provider with 502 uninspectable_content", async (_what, type, text) => {
    eco.provider.handler = (_req, res) => {
      res.writeHead(200, { "Content-Type": type });
      res.end(text);
    };
    const res = await read();
    expect(res.status).toBe(502);
    expect(await res.json()).toMatchObject({ code: "uninspectable_content" });
  });

  it("never passes an upstream error body on", async () => {
    eco.provider.handler = json({ error: "db down", secret: "CAL-111111" }, 500);
    const res = await read();
    expect(res.status).toBe(502);
    const text = await res.text();
    expect(JSON.parse(text)).toMatchObject({ code: "upstream_error" });
    expect(text).not.toContain("db down");
  });
});

describe("deliver", () => {
  it("cuts the delivered body to granted fields before the consumer sees it", async () => {
    eco.consumer.received.length = 0;
    const res = await deliver(
      JSON.stringify({
        items: [{ vin: "V1", mileage: 5, engine: { calibration: "x" }, extra: 1 }],
      }),
    );
    expect(res.status).toBe(200);
    expect(res.headers.get("X-Records")).toBe("1");
    expect(eco.consumer.received.at(-1)?.body).toBe('{"items":[{"vin":"V1","mileage":5}]}');
    expect(eco.consumer.received.at(-1)?.headers.authorization).not.toContain(providerToken);
  });

  it("refuses a delivered body with a core marker: 422 leak_blocked, the consumer receives nothing", async () => {
    eco.consumer.received.length = 0;
    const res = await deliver(JSON.stringify({ items: [{ vin: "CAL-123456" }] }));
    expect(res.status).toBe(422);
    expect(await res.json()).toMatchObject({ code: "leak_blocked" });
    expect(eco.consumer.received).toHaveLength(0);
  });

  it("refuses a body it cannot inspect with 415 unsupported_media_type", async () => {
    for (const [body, type] of [
      ["just text", "text/plain"],
      ['{"items": [', "application/json"],
      ["a,b\n1", "text/csv; charset=latin1"],
    ] as const) {
      const res = await deliver(body, type);
      expect(res.status, type).toBe(415);
      expect(await res.json()).toMatchObject({ code: "unsupported_media_type" });
    }
  });

  it("cuts CSV and NDJSON deliveries too", async () => {
    const csv = await deliver(
      "vin,mileage,engine.calibration\r\nV1,5,CAL-000001\r\nV2,6,CAL-000002\r\n",
      "text/csv",
    );
    expect(csv.status).toBe(200);
    expect(eco.consumer.received.at(-1)?.body).toBe("vin,mileage\r\nV1,5\r\nV2,6\r\n");
    const nd = await deliver(
      '{"vin":"V1","x":1}\n{"vin":"V2","speed":{"avg":3,"max":9}}\n',
      "application/x-ndjson",
    );
    expect(nd.status).toBe(200);
    expect(eco.consumer.received.at(-1)?.body).toBe(
      '{"vin":"V1"}\n{"vin":"V2","speed":{"avg":3}}\n',
    );
  });
});
