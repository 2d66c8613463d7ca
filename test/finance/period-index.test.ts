/**
 * The period index is exact: a whole day (or month) of flows read from it
 * gives the same released, denied, blocked and failed counts, records, bytes
 * and value as the hourly rollups, a deliver the consumer refused included
 * (its reversal takes back from the day and month too), and the
 * reconciliation proves the day against the events.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  avoidWindowEdges,
  flows,
  gatewayNow,
  getJson,
  type Reconciliation,
  type Row,
  recordsHandler,
} from "../metering/support.ts";
import { json } from "../support/backends.ts";
import { createEcosystem, type Ecosystem, RECORDS } from "../support/ecosystem.ts";
import { createTestGateway, type TestGateway } from "../support/gateway.ts";

let t: TestGateway;
let eco: Ecosystem;
let day: { from: string; to: string };

const COUNTS = ["requests", "denied", "blocked", "failed", "records", "bytes"] as const;

function sum(rows: readonly Row[]) {
  const out: Record<string, number> = Object.fromEntries([...COUNTS, "value"].map((k) => [k, 0]));
  for (const r of rows) {
    for (const k of COUNTS) out[k] = (out[k] ?? 0) + r[k];
    out.value = (out.value ?? 0) + r.value.amount;
  }
  return out;
}

beforeAll(async () => {
  t = await createTestGateway();
  avoidWindowEdges(t);
  eco = await createEcosystem(t, { providerHandler: recordsHandler() });
  const consumer = await eco.partnerToken(eco.ids.consumer);
  const provider = await eco.partnerToken(eco.ids.provider);
  const read = (query: string, purpose = true) =>
    t.call("GET", `/v1/exchange/${eco.agreement}?${query}`, {
      token: consumer,
      headers: purpose ? { "Data-Purpose": "insurance-pricing" } : {},
    });
  const deliver = () =>
    t.call("POST", `/v1/exchange/${eco.agreement}`, {
      token: provider,
      body: { items: RECORDS },
      headers: { "Data-Purpose": "insurance-pricing" },
    });
  for (let i = 0; i < 3; i++) expect((await read("n=2")).status).toBe(200);
  expect((await read("n=2", false)).status).toBe(403); // denied
  expect((await read("n=1&marker=1")).status).toBe(502); // blocked
  expect((await deliver()).status).toBe(200);
  eco.consumer.handler = json({ error: "inbox down" }, 500);
  expect((await deliver()).status).toBe(502); // metered, then reversed
  eco.provider.handler = json({ error: "down" }, 500);
  expect((await read("n=2")).status).toBe(502); // failed
  const start = new Date(gatewayNow(t));
  start.setUTCHours(0, 0, 0, 0);
  day = {
    from: start.toISOString(),
    to: new Date(start.getTime() + 86_400_000).toISOString(),
  };
}, 60_000);
afterAll(async () => {
  await eco?.close();
});

describe("the period index", () => {
  it("gives a whole day the same counts as the hourly rollups, refusals and a reversal included", async () => {
    const own = (rows: Row[]) => rows.filter((r) => r.agreement === eco.agreement);
    const fromIndex = own(await flows(t, { granularity: "total" }, day));
    const fromHours = own(await flows(t, { granularity: "hour" }, day));
    expect(fromIndex).toHaveLength(1);
    expect(sum(fromIndex)).toEqual(sum(fromHours));
    expect(fromIndex[0]).toMatchObject({
      requests: 4,
      denied: 1,
      blocked: 1,
      // The provider's 500, and the consumer's refusal of the deliver.
      failed: 2,
      records: 3 * 2 + RECORDS.length,
    });
    const byDay = own(await flows(t, { granularity: "day" }, day));
    expect(byDay.map((r) => r.period)).toEqual([day.from.slice(0, 10)]);
    expect(sum(byDay)).toEqual(sum(fromHours));
  });

  it("is proved against the events by the reconciliation", async () => {
    const token = await t.token("finance", ["metrics:read"]);
    const body = await getJson<Reconciliation & { periods: string[] }>(
      t,
      `/metrics/reconcile?${new URLSearchParams(day)}`,
      token,
    );
    expect(body.periods).toEqual([day.from.slice(0, 10)]);
    expect(body.differences).toEqual([]);
    expect(body.consistent).toBe(true);
  });
});
