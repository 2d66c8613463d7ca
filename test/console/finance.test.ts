/**
 * Finance in the browser: the table holds exactly the rows `/metrics/flows`
 * answers for the page's window, attribution equals `/metrics/attribution`,
 * the chart is drawn by the gateway-served uPlot, the "Download CSV" link
 * gives the API's CSV byte for byte, and the page passes axe-core.
 */
import { readFile } from "node:fs/promises";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalGateway } from "../../functions/local/server.ts";
import {
  axe,
  clientToken,
  FINANCE,
  launchBrowser,
  screenshot,
  seriousOf,
  signIn,
  startConsoleGateway,
} from "./support.ts";

let g: LocalGateway;
let browser: Browser;
let page: Page;
let finance: string;

beforeAll(async () => {
  [g, browser] = await Promise.all([startConsoleGateway(), launchBrowser()]);
  // Traffic to count: three reads of agr-1 and one refused for its purpose.
  const insureco = await clientToken(
    g.url,
    "insureco",
    g.demoSecrets.insureco ?? "",
    "agreement:agr-1",
  );
  for (const purpose of [
    "insurance-pricing",
    "insurance-pricing",
    "insurance-pricing",
    "marketing",
  ]) {
    await fetch(`${g.url}/v1/exchange/agr-1`, {
      headers: { Authorization: `Bearer ${insureco}`, "Data-Purpose": purpose },
    }).then((r) => r.arrayBuffer());
  }
  finance = await clientToken(g.url, g.finance.id, g.finance.secret, "metrics:read");
  const context = await browser.newContext({ acceptDownloads: true });
  page = await context.newPage();
  page.setDefaultTimeout(10_000);
  await signIn(page, g.url, FINANCE);
});

afterAll(async () => {
  await browser?.close();
  await g?.stop();
});

const api = async (path: string, accept = "application/json") => {
  const res = await fetch(`${g.url}${path}`, {
    headers: { Authorization: `Bearer ${finance}`, Accept: accept },
  });
  expect(res.status).toBe(200);
  return res;
};

/** The page's window, as it tells the API's from and to. */
async function windowOf(p: Page): Promise<{ from: string; to: string }> {
  const times = p.locator("#window time");
  return {
    from: (await times.nth(0).getAttribute("datetime")) ?? "",
    to: (await times.nth(1).getAttribute("datetime")) ?? "",
  };
}

interface FlowRow {
  agreement: string;
  period: string;
  requests: number;
  denied: number;
  blocked: number;
  records: number;
  bytes: number;
  value: { currency: string; amount: number };
}

describe("the finance console", () => {
  it("lands finance on its page, with only the sections its role opens", async () => {
    expect(new URL(page.url()).pathname).toBe("/console/finance");
    const nav = page.getByRole("navigation", { name: "Console sections" });
    expect(await nav.getByRole("link").allTextContents()).toEqual(["Finance"]);
  });

  it("shows a table equal to /metrics/flows for the page's window, row for row", async () => {
    const w = await windowOf(page);
    const q = new URLSearchParams({ ...w, granularity: "day", groupBy: "agreement" });
    const expected = ((await (await api(`/metrics/flows?${q}`)).json()) as { items: FlowRow[] })
      .items;
    expect(expected.length).toBeGreaterThan(0);
    expect(expected.some((r) => r.requests === 3 && r.denied === 1)).toBe(true);

    const rows = page.locator("table#flows tbody tr");
    const shown = [];
    for (let i = 0; i < (await rows.count()); i++) {
      const cells = rows.nth(i).locator("th, td");
      const text = await cells.allTextContents();
      shown.push({
        agreement: text[0],
        period: text[1],
        requests: Number(text[2]),
        denied: Number(text[3]),
        blocked: Number(text[4]),
        failed: Number(text[5]),
        records: Number(text[6]),
        bytes: Number(text[7]),
        value: {
          currency: text[8],
          amount: Number(await cells.nth(9).getAttribute("data-micros")),
        },
      });
    }
    expect(shown).toEqual(expected);
  });

  it("shows attribution equal to /metrics/attribution", async () => {
    const w = await windowOf(page);
    const expected = (
      (await (await api(`/metrics/attribution?${new URLSearchParams(w)}`)).json()) as {
        items: { partner: string; earned: Record<string, number>; paid: Record<string, number> }[];
      }
    ).items;
    const rows = await page
      .locator("table#attribution tbody tr")
      .evaluateAll((trs) =>
        trs.map((tr) =>
          Array.from(tr.children, (c) =>
            ((c as { textContent: string | null }).textContent ?? "").trim(),
          ),
        ),
      );
    const micros = (s: string | undefined) => Math.round(Number(s) * 1_000_000);
    const shown = new Map(rows.map((r) => [`${r[0]}|${r[1]}`, [micros(r[2]), micros(r[3])]]));
    let compared = 0;
    for (const a of expected) {
      for (const cur of new Set([...Object.keys(a.earned), ...Object.keys(a.paid)])) {
        expect(shown.get(`${a.partner}|${cur}`)).toEqual([a.earned[cur] ?? 0, a.paid[cur] ?? 0]);
        compared++;
      }
    }
    expect(compared).toBe(rows.length);
    expect(compared).toBeGreaterThan(0);
  });

  it("draws the value and records charts with the gateway's own uPlot", async () => {
    const chart = page.locator("#chart-value-EUR");
    await chart.locator("canvas").waitFor();
    expect(await chart.locator(".u-legend").textContent()).toContain("agr-1");
    expect(await page.locator("#chart-records canvas").count()).toBe(1);
    const scripts = await page
      .locator("script[src]")
      .evaluateAll((els) => els.map((e) => e.getAttribute("src")));
    expect(scripts).toEqual(["/console/assets/uplot.js", "/console/assets/console.js"]);
    await screenshot(page, "finance");
    expect(seriousOf(await axe(page))).toEqual([]);
  });

  it("downloads the flows as the API's CSV", async () => {
    const w = await windowOf(page);
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("link", { name: "Download CSV" }).click(),
    ]);
    expect(download.suggestedFilename()).toMatch(
      /^flows-\d{4}-\d{2}-\d{2}-to-\d{4}-\d{2}-\d{2}\.csv$/,
    );
    const file = await download.path();
    const body = await readFile(file, "utf8");
    const q = new URLSearchParams({ ...w, granularity: "day", groupBy: "agreement" });
    const expected = await (await api(`/metrics/flows?${q}`, "text/csv")).text();
    expect(body).toBe(expected);
    expect(body.split("\n")[0]).toContain("agreement");
    expect(body).toContain("agr-1");
  });

  it("a chosen window answers the same rows as the API for it", async () => {
    const today = new Date().toISOString().slice(0, 10);
    await page.getByLabel("From (UTC day)").fill(today);
    await page.getByLabel("To (UTC day, inclusive)").fill(today);
    await page.getByRole("button", { name: "Show" }).click();
    await page.waitForURL(/from=/);
    const w = await windowOf(page);
    expect(w.from).toBe(`${today}T00:00:00.000Z`);
    const q = new URLSearchParams({ ...w, granularity: "day", groupBy: "agreement" });
    const expected = ((await (await api(`/metrics/flows?${q}`)).json()) as { items: FlowRow[] })
      .items;
    expect(await page.locator("table#flows tbody tr").count()).toBe(expected.length);
  });

  it("refuses operators' pages to finance: the API answers scope_missing", async () => {
    const res = await page.goto(`${g.url}/console/partners`);
    expect(res?.status()).toBe(403);
    expect(await page.getByRole("alert").textContent()).toContain("scope_missing");
  });
});
