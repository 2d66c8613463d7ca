/**
 * An operator in the browser: signs in at the embedded provider, revokes a
 * partner from its row (reason and confirmation), and the partner's very
 * next exchange is refused while the audit trail names the person; rotates
 * credentials (the secret shown once, the old one dead); explains a
 * decision; and every operator page passes axe-core with no serious or
 * critical violation. Screenshots of each page go to test-results/console/.
 */
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalGateway } from "../../functions/local/server.ts";
import {
  axe,
  clientToken,
  launchBrowser,
  OPERATOR,
  screenshot,
  seriousOf,
  signIn,
  startConsoleGateway,
} from "./support.ts";

let g: LocalGateway;
let browser: Browser;
let context: BrowserContext;
let page: Page;

beforeAll(async () => {
  [g, browser] = await Promise.all([startConsoleGateway(), launchBrowser()]);
  context = await browser.newContext();
  page = await context.newPage();
  page.setDefaultTimeout(10_000);
  await signIn(page, g.url, OPERATOR);
});

afterAll(async () => {
  await browser?.close();
  await g?.stop();
});

const exchange = (token: string) =>
  fetch(`${g.url}/v1/exchange/agr-1`, {
    headers: { Authorization: `Bearer ${token}`, "Data-Purpose": "insurance-pricing" },
  });

describe("the operator's console", () => {
  it("signs in as the person and shows the partners with their status", async () => {
    expect(new URL(page.url()).pathname).toBe("/console/partners");
    expect(await page.locator(".who").textContent()).toContain(`Signed in as ${OPERATOR.username}`);
    const row = page.locator("tr", { has: page.getByRole("rowheader", { name: "insureco" }) });
    expect(await row.getByText("active", { exact: true }).count()).toBe(1);
    for (const name of ["Suspend", "Revoke", "Reinstate"]) {
      expect(await row.getByRole("button", { name: new RegExp(`^${name}`) }).count()).toBe(1);
    }
    await screenshot(page, "partners");
  });

  it("revokes a partner from its row: its next exchange is 403 partner_revoked, the audit names the person", async () => {
    const insureco = await clientToken(
      g.url,
      "insureco",
      g.demoSecrets.insureco ?? "",
      "agreement:agr-1",
    );
    expect((await exchange(insureco)).status).toBe(200);

    const row = page.locator("tr", { has: page.getByRole("rowheader", { name: "insureco" }) });
    await row.getByRole("button", { name: /^Revoke/ }).click();
    await page.waitForURL(/\/console\/partners\/insureco\/revoke\??$/);
    // Nothing happens before a reason and a confirmation.
    expect((await exchange(insureco)).status).toBe(200);
    await page.getByLabel("Reason").fill("leaked credentials reported by the partner");
    await screenshot(page, "partner-revoke-confirm");
    const confirmAxe = seriousOf(await axe(page));
    expect(confirmAxe).toEqual([]);
    await page.getByRole("button", { name: /^Confirm/ }).click();
    await page.waitForURL(/\/console\/partners\?/);
    expect(await page.getByRole("status").textContent()).toContain("insureco is now revoked");

    const refused = await exchange(insureco);
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { code: string }).code).toBe("partner_revoked");

    const admin = await clientToken(g.url, g.operator.id, g.operator.secret, "admin");
    const audit = (await (
      await fetch(`${g.url}/admin/audit?action=partner.revoke&partner=insureco`, {
        headers: { Authorization: `Bearer ${admin}` },
      })
    ).json()) as { items: { actor: string; reason: string; target: string }[] };
    expect(audit.items[0]).toMatchObject({
      actor: `person:${OPERATOR.username}`,
      target: "partner:insureco",
      reason: "leaked credentials reported by the partner",
    });

    // The audit page shows the same entry, and the chain verifies.
    await page.goto(`${g.url}/console/audit?action=partner.revoke`);
    const entry = page.locator("tbody tr").first();
    expect(await entry.textContent()).toContain(`person:${OPERATOR.username}`);
    await page.getByRole("button", { name: "Verify the hash chain" }).click();
    await page.waitForURL(/verify=1/);
    expect(await page.getByText(/Intact: all \d+ entries verify/).count()).toBe(1);
    // The filter survives the verification.
    expect(await page.locator("tbody tr").first().textContent()).toContain("partner:insureco");
    await screenshot(page, "audit");
    expect(seriousOf(await axe(page))).toEqual([]);

    // Reinstated from the page: the partner exchanges again.
    await page.goto(`${g.url}/console/partners`);
    const again = page.locator("tr", { has: page.getByRole("rowheader", { name: "insureco" }) });
    await again.getByRole("button", { name: /^Reinstate/ }).click();
    await page.getByLabel("Reason").fill("new credentials issued");
    await page.getByRole("button", { name: /^Confirm/ }).click();
    await page.waitForURL(/\/console\/partners\?/);
    expect((await exchange(insureco)).status).toBe(200);
  });

  it("rotates a partner's credentials: the secret is shown once and the old one stops working", async () => {
    const old = g.demoSecrets.fleetco ?? "";
    await clientToken(g.url, "fleetco", old, "agreement:agr-2");
    await page.goto(`${g.url}/console/partners`);
    const row = page.locator("tr", { has: page.getByRole("rowheader", { name: "fleetco" }) });
    await row.getByRole("button", { name: /^Rotate credentials/ }).click();
    await page.getByRole("button", { name: /^Confirm/ }).click();
    const secret = (await page.locator("#client-secret").textContent())?.trim() ?? "";
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    await screenshot(page, "partner-secret");
    // The session cookie is HttpOnly: no script of the page can read it.
    expect(await page.evaluate("document.cookie")).toBe("");
    await expect(clientToken(g.url, "fleetco", old, "agreement:agr-2")).rejects.toThrow(/401/);
    await clientToken(g.url, "fleetco", secret, "agreement:agr-2");
  });

  it("shows an agreement's terms, versions and ODRL, and explains a decision", async () => {
    await page.goto(`${g.url}/console/agreements`);
    await screenshot(page, "agreements");
    expect(seriousOf(await axe(page))).toEqual([]);
    await page.getByRole("link", { name: "agr-1", exact: true }).click();
    await page.waitForURL(/\/console\/agreements\/agr-1$/);
    expect(await page.getByText("insurance-pricing").count()).toBeGreaterThan(0);
    expect(await page.locator("pre").textContent()).toContain('"@type": "Agreement"');

    await page.getByLabel("Partner").selectOption("insureco");
    await page.getByLabel("Action").selectOption("read");
    await page.getByLabel("Purpose").fill("marketing");
    await page.getByRole("button", { name: "Explain" }).click();
    const decision = page.locator("section.panel");
    expect(await decision.textContent()).toContain("deny");
    expect(await decision.textContent()).toContain("purpose_not_permitted");
    await screenshot(page, "agreement");
    expect(seriousOf(await axe(page))).toEqual([]);
  });

  it("draws the flow map as an SVG graph of partners and agreements", async () => {
    await page.goto(`${g.url}/console/flows`);
    const svg = page.locator("svg.flow-map");
    expect(await svg.getAttribute("role")).toBe("img");
    expect(await svg.locator("g.node").count()).toBe(3);
    expect(await svg.locator('g.edge[data-agreement="agr-1"] path').count()).toBe(1);
    await screenshot(page, "flows");
    expect(seriousOf(await axe(page))).toEqual([]);
  });

  it("every control is reachable by keyboard", async () => {
    await page.goto(`${g.url}/console/partners`);
    const reached = new Set<string>();
    for (let i = 0; i < 60; i++) {
      await page.keyboard.press("Tab");
      const name = await page.evaluate(
        "(() => { const el = document.activeElement; return el === null ? '' : el.tagName + ':' + (el.textContent ?? '').trim(); })()",
      );
      reached.add(String(name));
    }
    expect([...reached]).toEqual(
      expect.arrayContaining(["A:Skip to content", "BUTTON:Revoke telematico", "BUTTON:Sign out"]),
    );
    await screenshot(page, "partners-keyboard");
    expect(seriousOf(await axe(page))).toEqual([]);
  });

  it("without a role for a page the API refuses it: an operator is not finance", async () => {
    const res = await page.goto(`${g.url}/console/finance`);
    expect(res?.status()).toBe(403);
    expect(await page.getByRole("alert").textContent()).toContain("scope_missing");
  });
});
