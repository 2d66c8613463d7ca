/**
 * 500 concurrent exchanges on one agreement, through the app, against
 * DynamoDB Local: every released exchange is counted once, with exactly the
 * records, bytes and value released, and the reconciliation finds the rollups
 * equal to a recount of the metering events.
 */
import { describe, expect } from "vitest";
import { flowRowsOf, meteringTest, pool, reconcile, windowAround } from "./support.ts";

const EXCHANGES = 500;
// Enough to keep many metering transactions in flight at once, few enough that a
// loaded two-core machine still answers the loopback provider within its timeout.
const IN_FLIGHT = 25;
const PRICE = { currency: "EUR", perRequest: 250, perRecord: 1_300 };

const it = meteringTest.extend("eco", { scope: "file" }, ({ ecosystem }) =>
  ecosystem({ agreement: { price: PRICE } }),
);

describe("500 concurrent exchanges on one agreement", () => {
  it("are counted 500 times with exact records, bytes and value, and reconcile", async ({
    t,
    eco,
  }) => {
    const token = await eco.partnerToken(eco.ids.consumer);
    let upstreamRetries = 0;
    const results = await pool(EXCHANGES, IN_FLIGHT, async () => {
      for (;;) {
        const res = await t.call("GET", `/v1/exchange/${eco.agreement}`, {
          token,
          headers: { "Data-Purpose": "insurance-pricing" },
        });
        const body = await res.text();
        // The loopback provider's keep-alive socket can be reset under load
        // (see the report on functions/exchange/upstream.ts): that exchange
        // failed before metering, released nothing, and is sent again.
        if (res.status === 502 && body.includes("upstream_error") && upstreamRetries < 25) {
          upstreamRetries++;
          continue;
        }
        return {
          status: res.status,
          records: Number(res.headers.get("X-Records")),
          bytes: Buffer.byteLength(body),
        };
      }
    });
    const statuses = new Map<number, number>();
    for (const r of results) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    expect(Object.fromEntries(statuses)).toEqual({ 200: EXCHANGES });
    expect(eco.provider.received.length).toBeGreaterThanOrEqual(EXCHANGES);

    const records = results.reduce((n, r) => n + r.records, 0);
    const bytes = results.reduce((n, r) => n + r.bytes, 0);
    // The provider answers two records each time (test/support/ecosystem.ts).
    expect(records).toBe(2 * EXCHANGES);
    const value = results.reduce((n, r) => n + PRICE.perRequest + PRICE.perRecord * r.records, 0);

    const window = windowAround(t);
    const rows = await flowRowsOf(t, eco.agreement, window);
    expect(rows).toEqual([
      {
        agreement: eco.agreement,
        provider: eco.ids.provider,
        consumer: eco.ids.consumer,
        dataset: eco.ids.dataset,
        period: `${window.from}/${window.to}`,
        requests: EXCHANGES,
        denied: 0,
        blocked: 0,
        failed: 0,
        records,
        bytes,
        value: { currency: "EUR", amount: value },
      },
    ]);

    const check = await reconcile(t);
    expect(check).toMatchObject({ consistent: true, differences: [], events: EXCHANGES });
  }, 300_000);
});
