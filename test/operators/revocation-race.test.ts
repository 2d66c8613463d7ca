/**
 * Revocation in flight: many concurrent exchanges of one consumer run against
 * a slow provider backend while the consumer is revoked. Not one exchange
 * that starts after the revoke answered is served; every exchange in flight
 * either completed (its metering committed) before the revoke was stored or
 * is refused, which the status checks inside the metering transaction
 * guarantee; and what finance sees counts exactly the exchanges served.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_SETTINGS } from "../../functions/gateway.ts";
import { json } from "../support/backends.ts";
import { createEcosystem, type Ecosystem, RECORDS } from "../support/ecosystem.ts";
import { createTestGateway, ISSUER, type TestGateway } from "../support/gateway.ts";
import { admin, financeFlows, read } from "./helpers.ts";

let t: TestGateway;
let eco: Ecosystem;
let openGate: () => void = () => {};
const gate = new Promise<void>((resolve) => {
  openGate = resolve;
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  // Exchanges held at the backend across the revoke must not time out on a loaded machine.
  t = await createTestGateway({
    settings: {
      ...DEFAULT_SETTINGS,
      issuer: ISSUER,
      audience: ISSUER,
      localBackends: true,
      upstreamTimeoutMs: 30_000,
    },
  });
  const answer = json({ items: RECORDS });
  eco = await createEcosystem(t, {
    providerHandler: async (req, res) => {
      // /hold: answers only once the revoke has answered (certainly in flight across it);
      // anything else: a slow backend, 100 to 300 ms.
      if (req.url.startsWith("/telemetry/hold")) await gate;
      else await sleep(100 + Math.random() * 200);
      await answer(req, res);
    },
  });
});
afterAll(() => eco.close());

interface Run {
  readonly group: "before" | "held" | "stream";
  readonly start: number;
  end: number;
  status: number;
  code: string | undefined;
}

describe("revocation in flight", () => {
  it("serves nothing that starts after the revoke answered and nothing whose metering came after it", async () => {
    const token = await eco.partnerToken(eco.ids.consumer);
    const runs: Run[] = [];
    const exchange = async (group: Run["group"], path = "") => {
      const run: Run = { group, start: performance.now(), end: 0, status: 0, code: undefined };
      runs.push(run);
      const res = await read(t, eco, token, path);
      run.end = performance.now();
      run.status = res.status;
      run.code = ((await res.json()) as { code?: string }).code;
    };

    // Served before anything happens.
    await Promise.all(Array.from({ length: 3 }, () => exchange("before")));

    // Exchanges that are past their first status check and wait at the backend.
    const held = Array.from({ length: 8 }, () => exchange("held", "/hold"));
    while (eco.provider.received.filter((r) => r.url.startsWith("/telemetry/hold")).length < 8)
      await sleep(5);

    // A stream of exchanges, one every 10 ms, with the revoke landing in the middle.
    let revokeSent = 0;
    let revokeAnswered = 0;
    let revokeStatus = 0;
    const stream: Promise<void>[] = [];
    const revoke = (async () => {
      await sleep(300);
      revokeSent = performance.now();
      const res = await admin(t, "POST", `/admin/partners/${eco.ids.consumer}/revoke`, {
        reason: "revoked under load",
      });
      revokeAnswered = performance.now();
      revokeStatus = res.status;
      openGate();
    })();
    let after = 0;
    while (after < 12) {
      stream.push(exchange("stream"));
      if (revokeAnswered > 0) after++;
      await sleep(10);
    }
    await revoke;
    await Promise.all([...held, ...stream]);
    expect(revokeStatus).toBe(200);

    // Every answer is a release or the revocation's refusal.
    for (const r of runs) {
      expect([200, 403], `${r.group} ${r.status} ${r.code}`).toContain(r.status);
      if (r.status === 403) expect(r.code).toBe("partner_revoked");
    }
    // Not one exchange that started after the revoke answered was served.
    const startedAfter = runs.filter((r) => r.start > revokeAnswered);
    expect(startedAfter.length).toBeGreaterThanOrEqual(11);
    expect(startedAfter.filter((r) => r.status === 200)).toEqual([]);
    // Those held at the backend across the revoke were refused after the backend answered.
    const heldRuns = runs.filter((r) => r.group === "held");
    expect(heldRuns.map((r) => r.status)).toEqual(Array(8).fill(403));
    expect(heldRuns.every((r) => r.start < revokeSent && r.end > revokeAnswered)).toBe(true);
    // Whatever was served started before the revoke answered.
    const served = runs.filter((r) => r.status === 200);
    expect(served.every((r) => r.start < revokeAnswered)).toBe(true);
    expect(runs.filter((r) => r.group === "before").map((r) => r.status)).toEqual([200, 200, 200]);

    // Every release was metered (so committed before the revoke was stored), and only those.
    const counted = async () => {
      const row = await financeFlows(t, eco.agreement);
      return { requests: row?.requests ?? 0, records: row?.records ?? 0 };
    };
    const metered = await counted();
    expect(metered).toEqual({ requests: served.length, records: served.length * RECORDS.length });
    const refused = runs.filter((r) => r.status === 403).length;
    expect(refused).toBeGreaterThanOrEqual(8 + 11);
    expect(served.length + refused).toBe(runs.length);
    // In flight across the revoke: started before it answered, answered after it was sent.
    const inFlight = runs.filter((r) => r.start < revokeAnswered && r.end > revokeSent);
    expect(inFlight.length).toBeGreaterThanOrEqual(8);
  }, 60_000);
});
