/**
 * Quotas under concurrency, through the app against DynamoDB Local: never one
 * request (or record) over the limit, never a request refused that fits, 429
 * quota_exceeded with Retry-After in seconds to the next UTC window.
 */
import { describe, expect } from "vitest";
import type { Ecosystem } from "../support/ecosystem.ts";
import type { TestGateway } from "../support/gateway.ts";
import {
  flowRowsOf,
  gatewayNow,
  getJson,
  meteringTest,
  reconcile,
  recordsHandler,
  secondsToNextDay,
  secondsToNextMonth,
} from "./support.ts";

/** Every ecosystem here: a provider answering `?n=<k>` with k records, and a quota. */
const it = meteringTest.extend("quotaEcosystem", { scope: "file" }, ({ ecosystem }) => {
  return (quota: Record<string, number>) =>
    ecosystem({ providerHandler: recordsHandler(), agreement: { quota } });
});

interface Outcome {
  readonly status: number;
  readonly records: number;
  readonly code?: string;
  readonly retryAfter?: number;
  /** Bounds of Retry-After from the gateway's clock before the call and after the answer. */
  readonly bounds: { readonly lo: number; readonly hi: number };
  readonly asked: number;
}

async function exchange(
  t: TestGateway,
  e: Ecosystem,
  token: string,
  records: number,
  untilNext: (t: number) => number,
): Promise<Outcome> {
  const before = gatewayNow(t).getTime();
  const res = await t.call("GET", `/v1/exchange/${e.agreement}?n=${records}`, {
    token,
    headers: { "Data-Purpose": "insurance-pricing" },
  });
  const after = gatewayNow(t).getTime();
  const text = await res.text();
  const bounds = { lo: untilNext(after), hi: untilNext(before) };
  if (res.status !== 200) {
    const body = JSON.parse(text) as { code: string };
    return {
      status: res.status,
      records: 0,
      code: body.code,
      retryAfter: Number(res.headers.get("Retry-After")),
      bounds,
      asked: records,
    };
  }
  return { status: 200, records: Number(res.headers.get("X-Records")), bounds, asked: records };
}

const burst = (n: number, run: () => Promise<Outcome>) =>
  Promise.all(Array.from({ length: n }, run));

function expectRefusals(outcomes: readonly Outcome[]) {
  for (const o of outcomes.filter((x) => x.status !== 200)) {
    expect(o).toMatchObject({ status: 429, code: "quota_exceeded" });
    // Whole seconds to the next window, from the gateway's clock at the time of refusal.
    expect(o.retryAfter).toBeGreaterThanOrEqual(o.bounds.lo);
    expect(o.retryAfter).toBeLessThanOrEqual(o.bounds.hi);
  }
}

async function quotaUsed(t: TestGateway, e: Ecosystem, token: string) {
  const body = await getJson<{
    items: { id: string; quotaUsed: { requestsToday: number; recordsThisMonth: number } }[];
  }>(t, "/v1/agreements", token);
  return body.items.find((a) => a.id === e.agreement)?.quotaUsed;
}

describe("requestsPerDay", () => {
  it("serves exactly N of 3N concurrent requests; the rest get 429 until the next UTC midnight", async ({
    t,
    quotaEcosystem,
  }) => {
    const N = 12;
    const e = await quotaEcosystem({ requestsPerDay: N });
    const token = await e.partnerToken(e.ids.consumer);
    const outcomes = await burst(3 * N, () => exchange(t, e, token, 2, secondsToNextDay));
    expect(outcomes.filter((o) => o.status === 200)).toHaveLength(N);
    expect(outcomes.filter((o) => o.status === 429)).toHaveLength(2 * N);
    expectRefusals(outcomes);
    // Still refused afterwards; the refusals are counted as denied.
    const later = await exchange(t, e, token, 2, secondsToNextDay);
    expect(later.status).toBe(429);
    expectRefusals([later]);
    expect((await flowRowsOf(t, e.agreement))[0]).toMatchObject({
      requests: N,
      records: 2 * N,
      denied: 2 * N + 1,
    });
    expect(await quotaUsed(t, e, token)).toMatchObject({ requestsToday: N });
  }, 120_000);

  it("opens again in the next UTC day", async ({ t, quotaEcosystem }) => {
    const e = await quotaEcosystem({ requestsPerDay: 1 });
    const token = await e.partnerToken(e.ids.consumer);
    expect((await exchange(t, e, token, 1, secondsToNextDay)).status).toBe(200);
    const refused = await exchange(t, e, token, 1, secondsToNextDay);
    expect(refused.status).toBe(429);
    const offset = t.clock.offsetMs;
    try {
      t.clock.offsetMs += (refused.retryAfter ?? 0) * 1000;
      const next = await e.partnerToken(e.ids.consumer);
      expect((await exchange(t, e, next, 1, secondsToNextDay)).status).toBe(200);
    } finally {
      t.clock.offsetMs = offset;
    }
  });
});

describe("recordsPerMonth", () => {
  it("limit 10, 3 records a response: exactly 3 of 9 concurrent served; then 1 record fits, 2 do not", async ({
    t,
    quotaEcosystem,
  }) => {
    const e = await quotaEcosystem({ recordsPerMonth: 10 });
    const token = await e.partnerToken(e.ids.consumer);
    // floor(10 / 3) = 3 responses of 3 records fit (9), the fourth would make 12.
    const threes = await burst(9, () => exchange(t, e, token, 3, secondsToNextMonth));
    expect(threes.filter((o) => o.status === 200).map((o) => o.records)).toEqual([3, 3, 3]);
    expect(threes.filter((o) => o.status === 429)).toHaveLength(6);
    expectRefusals(threes);
    // 1 record of room is left: 2 records never fit, 1 record fits exactly once.
    const twos = await burst(3, () => exchange(t, e, token, 2, secondsToNextMonth));
    expect(twos.map((o) => o.status)).toEqual([429, 429, 429]);
    expectRefusals(twos);
    const ones = await burst(3, () => exchange(t, e, token, 1, secondsToNextMonth));
    expect(ones.filter((o) => o.status === 200)).toHaveLength(1);
    expect(ones.filter((o) => o.status === 429)).toHaveLength(2);
    expectRefusals(ones);
    // An empty answer takes nothing and fits even now.
    expect((await exchange(t, e, token, 0, secondsToNextMonth)).status).toBe(200);
    expect((await flowRowsOf(t, e.agreement))[0]).toMatchObject({
      requests: 3 + 1 + 1,
      records: 10,
      denied: 6 + 3 + 2,
    });
    expect(await quotaUsed(t, e, token)).toMatchObject({ recordsThisMonth: 10 });
  }, 120_000);

  it("under mixed concurrent sizes, never goes over and refuses only what does not fit", async ({
    t,
    quotaEcosystem,
  }) => {
    const limit = 10;
    const e = await quotaEcosystem({ recordsPerMonth: limit });
    const token = await e.partnerToken(e.ids.consumer);
    const sizes = [3, 1, 3, 1, 3, 1, 3, 1, 3, 1, 2, 2];
    const outcomes = await Promise.all(
      sizes.map((n) => exchange(t, e, token, n, secondsToNextMonth)),
    );
    expectRefusals(outcomes);
    const served = outcomes.reduce((n, o) => n + o.records, 0);
    expect(served).toBeLessThanOrEqual(limit);
    // Counters only grow: a refusal of k records means fewer than k were left
    // at that moment, hence at the end too.
    for (const o of outcomes.filter((x) => x.status === 429)) {
      expect(limit - served).toBeLessThan(o.asked);
    }
    expect((await flowRowsOf(t, e.agreement))[0]).toMatchObject({ records: served });
    expect(await quotaUsed(t, e, token)).toMatchObject({ recordsThisMonth: served });
    expect(await reconcile(t)).toMatchObject({ consistent: true });
  }, 120_000);

  it("with both quotas, refuses on the one exhausted and gives Retry-After to the window that reopens last", async ({
    t,
    quotaEcosystem,
  }) => {
    const e = await quotaEcosystem({ requestsPerDay: 1, recordsPerMonth: 1 });
    const token = await e.partnerToken(e.ids.consumer);
    expect((await exchange(t, e, token, 1, secondsToNextMonth)).status).toBe(200);
    // Both are used up now; tomorrow the month quota still refuses.
    const refused = await exchange(t, e, token, 1, secondsToNextMonth);
    expectRefusals([refused]);
  });
});
