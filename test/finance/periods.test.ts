/**
 * Closing a month: who may, when (409 period_open / period_closed), what it
 * keeps (a statement whose bytes never change and whose SHA-256 the close
 * answers and audits), and where writes that land for it afterwards go (an
 * adjustment in the next open month): a late write, a reversal, and many
 * exchanges in flight while the month closes, each counted exactly once.
 */
import { createHash, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MeteringRequest } from "../../functions/store/meter.ts";
import type { Agreement } from "../../policies/model.ts";
import { problem, recordsHandler } from "../metering/support.ts";
import { createEcosystem, type Ecosystem } from "../support/ecosystem.ts";
import { createTestGateway, type TestGateway } from "../support/gateway.ts";

const M = "2021-03";
const NEXT = "2021-04";
const END = Date.parse(`${NEXT}-01T00:00:00Z`);
const PRICE = { currency: "EUR", perRequest: 1_000_003, perRecord: 7 };
const SHARES = [
  { partner: "", bps: 3333 },
  { partner: "", bps: 6667 },
];

let t: TestGateway;
let eco: Ecosystem;
let agreement: Agreement;

/** Puts the gateway's clock at `at`. */
const setClock = (at: number) => {
  t.clock.offsetMs = at - Date.now();
};

interface StatementBody {
  period: string;
  closed: boolean;
  items: {
    partner: string;
    currency: string;
    earned: number;
    paid: number;
    lines: { kind: string; agreement: string; requests: number; records: number }[];
  }[];
}

async function get(path: string, accept = "application/json") {
  const token = await t.token("finance", ["metrics:read"]);
  const res = await t.call("GET", path, { token, headers: { Accept: accept } });
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return text;
}

const statement = async (period: string, partner?: string) =>
  JSON.parse(
    await get(`/metrics/statements?period=${period}${partner ? `&partner=${partner}` : ""}`),
  ) as StatementBody;

async function close(period: string) {
  const token = await t.token("closer", ["metrics:close"]);
  return t.call("POST", `/metrics/periods/${period}/close`, { token });
}

/** The agreement's requests in a statement, by line kind (counted once, at the consumer). */
function requestsOf(s: StatementBody): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of s.items.filter((i) => i.partner === eco.ids.consumer))
    for (const l of item.lines.filter((x) => x.agreement === eco.agreement))
      out[l.kind] = (out[l.kind] ?? 0) + l.requests;
  return out;
}

const meteringAt = (now: Date, records = 2): MeteringRequest => ({
  agreement,
  action: "read",
  requestKey: randomUUID(),
  records,
  bytes: 100,
  now,
});

async function read(n = 2) {
  const token = await eco.partnerToken(eco.ids.consumer);
  return t.call("GET", `/v1/exchange/${eco.agreement}?n=${n}`, {
    token,
    headers: { "Data-Purpose": "insurance-pricing" },
  });
}

/** An operator's call at the gateway's (shifted) clock. */
async function admin(method: string, path: string, body?: unknown) {
  return t.call(method, path, { token: await t.token("operator", ["admin"]), body });
}

beforeAll(async () => {
  t = await createTestGateway();
  const shares = ["share-a", "share-b"];
  for (const id of shares) {
    const res = await t.admin("POST", "/admin/partners", {
      id,
      name: id,
      jurisdiction: "SE",
      baseUrl: "http://127.0.0.1:9",
    });
    expect(res.status).toBe(201);
  }
  eco = await createEcosystem(t, {
    providerHandler: recordsHandler(),
    agreement: {
      validFrom: "2021-01-01T00:00:00.000Z",
      price: PRICE,
      valueShares: SHARES.map((s, i) => ({ ...s, partner: shares[i] })),
    },
  });
  const found = (await t.gw.registry.allAgreements()).find((a) => a.id === eco.agreement);
  if (found === undefined) throw new Error("agreement missing");
  agreement = found;
  // The last hours of March 2021 (the agreement is valid since January).
  setClock(END - 3 * 3_600_000);
  for (let i = 0; i < 3; i++) expect((await read()).status).toBe(200);
}, 60_000);
afterAll(async () => {
  await eco?.close();
});

describe("before the close", () => {
  it("the open month's statement equals attribution over it, per partner and currency", async () => {
    const s = await statement(M);
    expect(s.closed).toBe(false);
    const attribution = JSON.parse(
      await get(`/metrics/attribution?from=${M}-01T00:00:00Z&to=${NEXT}-01T00:00:00Z`),
    ) as {
      items: { partner: string; earned: Record<string, number>; paid: Record<string, number> }[];
    };
    const fromStatement = s.items.map((i) => [i.partner, i.currency, i.earned, i.paid]);
    const fromAttribution = attribution.items.flatMap((a) =>
      [...new Set([...Object.keys(a.earned), ...Object.keys(a.paid)])].map((c) => [
        a.partner,
        c,
        a.earned[c] ?? 0,
        a.paid[c] ?? 0,
      ]),
    );
    expect(fromStatement).toEqual(fromAttribution);
    expect(requestsOf(s)).toEqual({ usage: 3 });
    const paid = s.items.find((i) => i.partner === eco.ids.consumer)?.paid;
    expect(paid).toBe(3 * (PRICE.perRequest + 2 * PRICE.perRecord));
  });

  it("the current month, a future one and one within 30 minutes of its end are open (409 period_open)", async () => {
    setClock(END + 10 * 60_000);
    for (const period of [NEXT, "2099-01", M]) {
      const res = await close(period);
      expect(res.status).toBe(409);
      expect(await problem(res)).toMatchObject({ code: "period_open" });
    }
  });

  it("needs metrics:close (a finance reader gets 403), and a month as yyyy-mm (400)", async () => {
    const reader = await t.token("finance", ["metrics:read"]);
    const res = await t.call("POST", `/metrics/periods/${M}/close`, { token: reader });
    expect(res.status).toBe(403);
    expect(await problem(res)).toMatchObject({ code: "scope_missing" });
    const bad = await close("2021-13");
    expect(bad.status).toBe(400);
    expect(await problem(bad)).toMatchObject({ code: "invalid_request" });
  });

  it("metrics:close is a role an operator grants with POST /admin/clients", async () => {
    const created = await admin("POST", "/admin/clients", {
      id: "closer-2",
      role: "metrics:close",
    });
    expect(created.status).toBe(201);
    const { clientSecret } = (await created.json()) as { clientSecret: string };
    const res = await t.app.request("/oauth/token", {
      method: "POST",
      headers: {
        Authorization: `Basic ${Buffer.from(`closer-2:${clientSecret}`).toString("base64")}`,
        "Content-Type": "application/x-www-form-urlencoded",
      },
      body: "grant_type=client_credentials",
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { scope: string }).scope).toBe("metrics:close");
  });
});

describe("closing with exchanges in flight", () => {
  let closed: { period: string; closedAt: string; sha256: string };
  const N = 16;
  /** One exchange of March metered before the close began, kept to be reversed after it. */
  let kept: {
    req: MeteringRequest;
    receipt: Awaited<ReturnType<TestGateway["gw"]["meter"]["meter"]>>;
  };

  it("counts every exchange in flight exactly once: in the closed month or as an adjustment", async () => {
    // Writes of the last instant of March still being committed while March
    // closes, after the grace (the clock shows 00:31).
    setClock(END + 31 * 60_000);
    const req = meteringAt(new Date(END - 2_000), 1);
    kept = { req, receipt: await t.gw.meter.meter(req) };
    expect(kept.receipt.kind).toBe("metered");
    expect(kept.receipt.kind === "metered" && kept.receipt.plan.booked).toBeFalsy();
    const late = Array.from({ length: N }, (_, i) =>
      t.gw.meter.meter(meteringAt(new Date(END - 1 - i))),
    );
    const [res, ...outcomes] = await Promise.all([close(M), ...late]);
    expect(res.status).toBe(200);
    closed = (await res.json()) as typeof closed;
    expect(closed).toMatchObject({ period: M });
    expect(closed.sha256).toMatch(/^[0-9a-f]{64}$/);
    for (const o of outcomes) expect(o.kind).toBe("metered");
    const adjusted = outcomes.filter((o) => o.kind === "metered" && o.plan.booked === NEXT);
    const march = requestsOf(await statement(M));
    const april = requestsOf(await statement(NEXT));
    expect(march.usage).toBe(3 + 1 + N - adjusted.length);
    expect(april).toEqual(adjusted.length === 0 ? {} : { adjustment: adjusted.length });
    expect((march.usage ?? 0) + (april.adjustment ?? 0)).toBe(3 + 1 + N);
  });

  it("a second close answers 409 period_closed", async () => {
    const res = await close(M);
    expect(res.status).toBe(409);
    expect(await problem(res)).toMatchObject({ code: "period_closed" });
  });

  it("the closed statement is the same bytes every time, with the close's SHA-256", async () => {
    const a = await get(`/metrics/statements?period=${M}`);
    const b = await get(`/metrics/statements?period=${M}`);
    expect(b).toBe(a);
    expect(createHash("sha256").update(a).digest("hex")).toBe(closed.sha256);
    expect(JSON.parse(a)).toMatchObject({ period: M, closed: true, closedAt: closed.closedAt });
    const csv = await get(`/metrics/statements?period=${M}`, "text/csv");
    expect(csv.split("\r\n")[0]).toBe(
      "period,partner,currency,kind,agreement,dataset,counterparty,requests,records,earned,paid",
    );
    expect(await get(`/metrics/statements?period=${M}`, "text/csv")).toBe(csv);
    const own = await statement(M, eco.ids.provider);
    expect(own.items.every((i) => i.partner === eco.ids.provider)).toBe(true);
  });

  it("the close is in the audit trail with the statement's digest", async () => {
    const res = await admin("GET", "/admin/audit?limit=1000");
    const body = (await res.json()) as {
      items: { action: string; details?: { sha256?: string } }[];
    };
    const entry = body.items.find((e) => e.action === "period.close");
    expect(entry?.details?.sha256).toBe(closed.sha256);
  });

  it("a late write and a reversal after the close are adjustments in April; March does not move", async () => {
    const before = await get(`/metrics/statements?period=${M}`);
    const adjustmentsBefore = requestsOf(await statement(NEXT)).adjustment ?? 0;
    // A write of March that lands only now...
    const lateReq = meteringAt(new Date(END - 5_000), 3);
    const lateWrite = await t.gw.meter.meter(lateReq);
    if (lateWrite.kind !== "metered") throw new Error(lateWrite.kind);
    expect(lateWrite.plan.booked).toBe(NEXT);
    // ...and an exchange counted in March, taken back now (a deliver refused late).
    if (kept.receipt.kind !== "metered") throw new Error(kept.receipt.kind);
    expect(await t.gw.meter.reverse(kept.req, kept.receipt)).toBe(true);
    expect(await get(`/metrics/statements?period=${M}`)).toBe(before);
    const april = await statement(NEXT);
    // +1 late write, -1 reversal, on one adjustment line of the agreement.
    expect(requestsOf(april).adjustment).toBe(adjustmentsBefore + 1 - 1);
    const lines = april.items
      .find((i) => i.partner === eco.ids.consumer)
      ?.lines.filter((l) => l.kind === "adjustment");
    expect(lines?.length).toBe(1);
    // The rollups still agree with the events around the boundary.
    const rec = JSON.parse(
      await get(
        `/metrics/reconcile?from=${new Date(END - 4 * 3_600_000).toISOString()}&to=${new Date(END + 3_600_000).toISOString()}`,
      ),
    ) as { consistent: boolean; differences: unknown[] };
    expect(rec.differences).toEqual([]);
    expect(rec.consistent).toBe(true);
  });

  it("a write that always checks (a transfer's) never lands in a closed month, whatever the clock says", async () => {
    const before = await get(`/metrics/statements?period=${M}`);
    const clockWas = t.clock.offsetMs;
    // A clock far from the month's end would skip the check (mayBeClosed);
    // the flag makes the write check the marker anyway.
    setClock(END - 10 * 86_400_000);
    try {
      const write = await t.gw.meter.meter({
        ...meteringAt(new Date(END - 10 * 86_400_000), 1),
        alwaysCheckClosedMonth: true,
      });
      if (write.kind !== "metered") throw new Error(write.kind);
      expect(write.plan.booked).toBe(NEXT);
    } finally {
      t.clock.offsetMs = clockWas;
    }
    expect(await get(`/metrics/statements?period=${M}`)).toBe(before);
  });
});
