/**
 * Finance's surface over a small ecosystem with two flows in two currencies:
 * /metrics/flows by granularity and groupBy, as JSON and RFC 4180 CSV;
 * /metrics/attribution (largest remainder, earned = paid to the micro-unit);
 * and partners' /v1/usage, the same numbers for their own flows.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rowsToCsv } from "../../functions/metrics/flows.ts";
import { json, startBackend, type TestBackend } from "../support/backends.ts";
import { agreementInput, createEcosystem, type Ecosystem } from "../support/ecosystem.ts";
import { createTestGateway, type TestGateway } from "../support/gateway.ts";
import {
  avoidWindowEdges,
  financeToken,
  flows,
  getJson,
  type Row,
  recordsHandler,
  windowAround,
} from "./support.ts";

let t: TestGateway;
let eco: Ecosystem;
let secondConsumer: TestBackend;
let secondToken: string;
const A2 = "agr-usd";
const C2 = "cons-usd";
const bytes = { a1: 0, a2: 0 };
// A1 in EUR: 1000001 a request, split 3333 / 3333 / 3334 bps among three partners.
const A1_PRICE = { currency: "EUR", perRequest: 1_000_001, perRecord: 0 };
const A2_PRICE = { currency: "USD", perRequest: 5, perRecord: 7 };
const SHARES = [
  { partner: "share-x", bps: 3333 },
  { partner: "share-y", bps: 3333 },
  { partner: "share-z", bps: 3334 },
];

async function created(res: Response, what: string) {
  const text = await res.text();
  if (res.status !== 201) throw new Error(`${what}: ${res.status} ${text}`);
  return JSON.parse(text) as { clientSecret: string };
}

async function tokenFor(id: string, secret: string, scope: string): Promise<string> {
  const res = await t.app.request("/oauth/token", {
    method: "POST",
    headers: {
      Authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`,
      "Content-Type": "application/x-www-form-urlencoded",
    },
    body: new URLSearchParams({ grant_type: "client_credentials", scope }).toString(),
  });
  return ((await res.json()) as { access_token: string }).access_token;
}

async function read(agreement: string, token: string, query: string, purpose = true) {
  const res = await t.call("GET", `/v1/exchange/${agreement}?${query}`, {
    token,
    headers: purpose ? { "Data-Purpose": "insurance-pricing" } : {},
  });
  return { status: res.status, bytes: Buffer.byteLength(await res.text()) };
}

beforeAll(async () => {
  t = await createTestGateway();
  avoidWindowEdges(t);
  for (const s of SHARES) {
    await created(
      await t.admin("POST", "/admin/partners", {
        id: s.partner,
        name: s.partner,
        jurisdiction: "SE",
        baseUrl: "http://127.0.0.1:9",
      }),
      s.partner,
    );
  }
  eco = await createEcosystem(t, {
    providerHandler: recordsHandler(),
    agreement: { price: A1_PRICE, valueShares: SHARES },
  });
  secondConsumer = await startBackend(json({ accepted: true }));
  const c2 = await created(
    await t.admin("POST", "/admin/partners", {
      id: C2,
      name: C2,
      jurisdiction: "FR",
      baseUrl: secondConsumer.url,
    }),
    C2,
  );
  await created(
    await t.admin(
      "POST",
      "/admin/agreements",
      agreementInput(A2, eco.ids.provider, C2, eco.ids.dataset, { price: A2_PRICE }),
    ),
    A2,
  );
  secondToken = await tokenFor(C2, c2.clientSecret, `agreement:${A2}`);

  const c1 = await eco.partnerToken(eco.ids.consumer);
  for (const query of ["n=2", "n=2"]) {
    const r = await read(eco.agreement, c1, query);
    expect(r.status).toBe(200);
    bytes.a1 += r.bytes;
  }
  expect((await read(eco.agreement, c1, "n=2", false)).status).toBe(403); // denied
  expect((await read(eco.agreement, c1, "n=1&marker=1")).status).toBe(502); // blocked
  for (const query of ["n=1", "n=2", "n=3"]) {
    const r = await read(A2, secondToken, query);
    expect(r.status).toBe(200);
    bytes.a2 += r.bytes;
  }
}, 120_000);
afterAll(async () => {
  await eco?.close();
  await secondConsumer?.close();
});

const COUNT_FIELDS = ["requests", "denied", "blocked", "failed", "records", "bytes", "value"];

function expectedRows(window: { from: string; to: string }): Row[] {
  const period = `${window.from}/${window.to}`;
  return [
    {
      agreement: eco.agreement,
      provider: eco.ids.provider,
      consumer: eco.ids.consumer,
      dataset: eco.ids.dataset,
      period,
      requests: 2,
      denied: 1,
      blocked: 1,
      failed: 0,
      records: 4,
      bytes: bytes.a1,
      value: { currency: "EUR", amount: 2 * A1_PRICE.perRequest },
    },
    {
      agreement: A2,
      provider: eco.ids.provider,
      consumer: C2,
      dataset: eco.ids.dataset,
      period,
      requests: 3,
      denied: 0,
      blocked: 0,
      failed: 0,
      records: 6,
      bytes: bytes.a2,
      value: { currency: "USD", amount: 3 * A2_PRICE.perRequest + 6 * A2_PRICE.perRecord },
    },
  ];
}

const byAgreement = (rows: readonly Row[]) =>
  [...rows].sort((a, b) => (a.agreement ?? "").localeCompare(b.agreement ?? ""));

/** Sums rows' counts, per currency. */
function totals(rows: readonly Row[]) {
  const out: Record<string, Record<string, number>> = {};
  for (const r of rows) {
    const c = r.value.currency;
    out[c] ??= { requests: 0, denied: 0, blocked: 0, records: 0, bytes: 0, value: 0 };
    const o = out[c];
    o.requests = (o.requests ?? 0) + r.requests;
    o.denied = (o.denied ?? 0) + r.denied;
    o.blocked = (o.blocked ?? 0) + r.blocked;
    o.records = (o.records ?? 0) + r.records;
    o.bytes = (o.bytes ?? 0) + r.bytes;
    o.value = (o.value ?? 0) + r.value.amount;
  }
  return out;
}

/** A strict RFC 4180 reader: CRLF line ends, quoted cells with doubled quotes. */
function parseCsv(text: string): string[][] {
  expect(text.endsWith("\r\n")).toBe(true);
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"' && cell === "") quoted = true;
    else if (ch === ",") {
      row.push(cell);
      cell = "";
    } else if (ch === "\r" && text[i + 1] === "\n") {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
      i++;
    } else {
      expect(ch).not.toBe("\n");
      expect(ch).not.toBe('"');
      cell += ch;
    }
  }
  expect(quoted).toBe(false);
  return rows;
}

describe("/metrics/flows", () => {
  it("answers one row per flow and currency with every count, over the whole window", async () => {
    const window = windowAround(t);
    expect(byAgreement(await flows(t, {}, window))).toEqual(byAgreement(expectedRows(window)));
  });

  it("breaks the same numbers down by hour, day and month", async () => {
    const window = windowAround(t);
    const total = await flows(t, {}, window);
    for (const [granularity, pattern] of [
      ["hour", /^\d{4}-\d{2}-\d{2}T\d{2}:00:00Z$/],
      ["day", /^\d{4}-\d{2}-\d{2}$/],
      ["month", /^\d{4}-\d{2}$/],
    ] as const) {
      const rows = await flows(t, { granularity }, window);
      for (const r of rows) expect(r.period).toMatch(pattern);
      expect(totals(rows)).toEqual(totals(total));
      for (const a of [eco.agreement, A2]) {
        expect(totals(rows.filter((r) => r.agreement === a))).toEqual(
          totals(total.filter((r) => r.agreement === a)),
        );
      }
    }
  });

  it("groups by the named dimensions and leaves the others out, one row per currency", async () => {
    const window = windowAround(t);
    const byProvider = await flows(t, { groupBy: "provider" }, window);
    expect(byProvider).toHaveLength(2);
    for (const r of byProvider) {
      expect(Object.keys(r).sort()).toEqual(["period", "provider", ...COUNT_FIELDS].sort());
      expect(r.provider).toBe(eco.ids.provider);
    }
    expect(totals(byProvider)).toEqual(totals(expectedRows(window)));

    const byConsumerDataset = await flows(t, { groupBy: "consumer,dataset" }, window);
    expect(byConsumerDataset.map((r) => [r.consumer, r.dataset, r.value.currency]).sort()).toEqual(
      [
        [eco.ids.consumer, eco.ids.dataset, "EUR"],
        [C2, eco.ids.dataset, "USD"],
      ].sort(),
    );
    for (const r of byConsumerDataset) {
      expect(Object.keys(r).sort()).toEqual(
        ["consumer", "dataset", "period", ...COUNT_FIELDS].sort(),
      );
    }
  });

  it("writes the same rows as RFC 4180 CSV with a header and value as currency, amount", async () => {
    const window = windowAround(t);
    for (const groupBy of [undefined, "provider"]) {
      const params = { ...window, granularity: "total", ...(groupBy ? { groupBy } : {}) };
      const res = await t.call("GET", `/metrics/flows?${new URLSearchParams(params)}`, {
        token: await financeToken(t),
        headers: { Accept: "text/csv" },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get("Content-Type")).toMatch(/^text\/csv/);
      const [header, ...lines] = parseCsv(await res.text());
      const dims =
        groupBy === undefined ? ["agreement", "provider", "consumer", "dataset"] : [groupBy];
      const tail = ["period", "requests", "denied", "blocked", "failed", "records", "bytes"];
      expect(header).toEqual([...dims, ...tail, "currency", "amount"]);
      const rows = await flows(t, groupBy ? { groupBy } : {}, window);
      expect(lines).toEqual(
        rows.map((r) => [
          ...dims.map((d) => String(r[d as keyof Row])),
          ...tail.map((f) => String(r[f as keyof Row])),
          r.value.currency,
          String(r.value.amount),
        ]),
      );
    }
  });

  it("quotes cells holding commas, quotes or line breaks (RFC 4180)", () => {
    const csv = rowsToCsv(
      [
        {
          provider: 'odd, "name"',
          period: "2026-01",
          requests: 1,
          denied: 0,
          blocked: 0,
          failed: 0,
          records: 2,
          bytes: 3,
          value: { currency: "EUR", amount: 4 },
        },
        {
          provider: "line\r\nbreak",
          period: "2026-02",
          requests: 0,
          denied: 0,
          blocked: 0,
          failed: 0,
          records: 0,
          bytes: 0,
          value: { currency: "EUR", amount: 0 },
        },
      ],
      ["provider"],
    );
    expect(csv.split("\r\n")[1]).toBe('"odd, ""name""",2026-01,1,0,0,0,2,3,EUR,4');
    expect(parseCsv(csv).map((r) => r[0])).toEqual(["provider", 'odd, "name"', "line\r\nbreak"]);
  });

  it("refuses an unknown groupBy or granularity, and a partner's token", async () => {
    const token = await financeToken(t);
    for (const q of ["groupBy=vendor", "granularity=week"]) {
      const res = await t.call("GET", `/metrics/flows?${q}`, { token });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ code: "invalid_request" });
    }
    const partner = await eco.partnerToken(eco.ids.consumer);
    expect((await t.call("GET", "/metrics/flows", { token: partner })).status).toBe(403);
  });
});

describe("/metrics/attribution", () => {
  it("splits each flow's value by its shares (largest remainder) and earned equals paid", async () => {
    const q = new URLSearchParams(windowAround(t));
    const body = await getJson<{
      items: { partner: string; earned: Record<string, number>; paid: Record<string, number> }[];
    }>(t, `/metrics/attribution?${q}`, await financeToken(t));
    const of = (p: string) => body.items.find((i) => i.partner === p);
    // A1's value: 2 x 1000001 = 2000002 EUR micro-units. 3333 bps of it is
    // 666600.6666, 3334 bps is 666800.6668: the floors leave 2 units, which go
    // to the largest remainder (share-z) and, of the tied two, the first listed (share-x).
    expect(of("share-x")).toEqual({ partner: "share-x", earned: { EUR: 666_601 }, paid: {} });
    expect(of("share-y")).toEqual({ partner: "share-y", earned: { EUR: 666_600 }, paid: {} });
    expect(of("share-z")).toEqual({ partner: "share-z", earned: { EUR: 666_801 }, paid: {} });
    expect(of(eco.ids.consumer)).toMatchObject({ paid: { EUR: 2 * A1_PRICE.perRequest } });
    // A2 has no shares: all of its value goes to its provider.
    const a2Value = 3 * A2_PRICE.perRequest + 6 * A2_PRICE.perRecord;
    expect(of(eco.ids.provider)).toMatchObject({ earned: { USD: a2Value } });
    expect(of(C2)).toMatchObject({ paid: { USD: a2Value } });
    const sum = (side: "earned" | "paid") => {
      const out: Record<string, number> = {};
      for (const i of body.items)
        for (const [c, v] of Object.entries(i[side])) out[c] = (out[c] ?? 0) + v;
      return out;
    };
    expect(sum("earned")).toEqual(sum("paid"));
    expect(sum("paid")).toEqual({ EUR: 2 * A1_PRICE.perRequest, USD: a2Value });
  });
});

describe("/v1/usage", () => {
  it("shows each partner its own flows, as consumer and as provider, with finance's numbers", async () => {
    const window = windowAround(t);
    const finance = await flows(t, {}, window);
    const usage = async (token: string) =>
      (
        await getJson<{ items: Row[] }>(
          t,
          `/v1/usage?${new URLSearchParams({ ...window, granularity: "total" })}`,
          token,
        )
      ).items;
    const c1 = await usage(await eco.partnerToken(eco.ids.consumer));
    expect(c1).toEqual(finance.filter((r) => r.agreement === eco.agreement));
    expect(await usage(secondToken)).toEqual(finance.filter((r) => r.agreement === A2));
    const provider = await usage(await eco.partnerToken(eco.ids.provider));
    expect(byAgreement(provider)).toEqual(byAgreement(finance));
  });
});
