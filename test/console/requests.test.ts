/**
 * Agreement requests in the browser: partners file requests through the API
 * (scope `catalog`), the operator sees them pending on the agreements page,
 * approves one (the agreement exists, active, is listed, and the audit names
 * the person) and rejects another with a reason (the consumer reads it);
 * finance cannot approve, nor can another origin; the pages pass axe-core.
 */
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalGateway } from "../../functions/local/server.ts";
import type { AgreementRequest } from "../../policies/offers.ts";
import {
  axe,
  clientToken,
  FINANCE,
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
let admin: string;
/** Filed by insureco (to approve), telematico (to reject), insureco again (left pending). */
let toApprove: AgreementRequest;
let toReject: AgreementRequest;
let untouched: AgreementRequest;

const catalogToken = (partner: string) =>
  clientToken(g.url, partner, g.demoSecrets[partner] ?? "", "catalog");

async function fileRequest(partner: string, purposes: string[]): Promise<AgreementRequest> {
  const res = await fetch(`${g.url}/v1/agreement-requests`, {
    method: "POST",
    headers: {
      Authorization: `Bearer ${await catalogToken(partner)}`,
      "Content-Type": "application/json",
    },
    body: JSON.stringify({ offer: "telemetry-basic", purposes }),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as AgreementRequest;
}

const adminGet = async <T>(path: string): Promise<T> => {
  const res = await fetch(`${g.url}${path}`, { headers: { Authorization: `Bearer ${admin}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as T;
};

const stateOf = async (id: string) =>
  (await adminGet<AgreementRequest>(`/admin/agreement-requests/${id}`)).state;

const rowOf = (p: Page, id: string) =>
  p.locator("tr", { has: p.getByRole("rowheader", { name: id, exact: true }) });

beforeAll(async () => {
  [g, browser] = await Promise.all([startConsoleGateway(), launchBrowser()]);
  admin = await clientToken(g.url, g.operator.id, g.operator.secret, "admin");
  toApprove = await fileRequest("insureco", ["fleet-analytics"]);
  toReject = await fileRequest("telematico", ["fleet-analytics"]);
  untouched = await fileRequest("insureco", ["insurance-pricing"]);
  context = await browser.newContext();
  page = await context.newPage();
  page.setDefaultTimeout(10_000);
  await signIn(page, g.url, OPERATOR, "/console/agreements");
});

afterAll(async () => {
  await browser?.close();
  await g?.stop();
});

describe("agreement requests in the console", () => {
  it("lists the pending requests on the agreements page, each with Approve and Reject", async () => {
    expect(new URL(page.url()).pathname).toBe("/console/agreements");
    expect(await page.getByRole("link", { name: /3 agreement requests are waiting/ }).count()).toBe(
      1,
    );
    for (const r of [toApprove, toReject, untouched]) {
      const row = rowOf(page, r.id);
      expect(await row.textContent()).toContain(`${r.consumer} → fleetco`);
      expect(await row.getByRole("button", { name: `Approve ${r.id}` }).count()).toBe(1);
      expect(await row.getByRole("button", { name: `Reject ${r.id}` }).count()).toBe(1);
    }
    expect(await rowOf(page, toReject.id).textContent()).toContain("vehicle-telemetry");
    await screenshot(page, "agreement-requests");
    expect(seriousOf(await axe(page))).toEqual([]);
  });

  it("approves a request: the agreement is made, listed, and the audit names the person", async () => {
    await rowOf(page, toApprove.id)
      .getByRole("button", { name: /^Approve/ })
      .click();
    await page.waitForURL(new RegExp(`/console/agreement-requests/${toApprove.id}/approve\\??$`));
    // Nothing happens before the confirmation.
    expect(await stateOf(toApprove.id)).toBe("requested");
    expect(await page.locator("dl.terms").textContent()).toContain("fleet-analytics");
    await screenshot(page, "agreement-request-approve");
    expect(seriousOf(await axe(page))).toEqual([]);
    await page.getByRole("button", { name: "Confirm: approve" }).click();
    await page.waitForURL(/\/console\/agreements\?/);

    const done = await adminGet<AgreementRequest>(`/admin/agreement-requests/${toApprove.id}`);
    expect(done).toMatchObject({ state: "agreed", decidedBy: `person:${OPERATOR.username}` });
    const agreementId = done.agreement ?? "";
    expect(await page.getByRole("status").textContent()).toContain(
      `Agreement ${agreementId} is active`,
    );
    expect(await page.getByRole("link", { name: agreementId, exact: true }).count()).toBe(1);
    expect(await rowOf(page, toApprove.id).count()).toBe(0);

    expect(await adminGet(`/admin/agreements/${agreementId}`)).toMatchObject({
      status: "active",
      version: 1,
      consumer: "insureco",
      purposes: ["fleet-analytics"],
    });
    // The consumer can now get the agreement's scope.
    await clientToken(g.url, "insureco", g.demoSecrets.insureco ?? "", `agreement:${agreementId}`);

    const audit = await adminGet<{ items: { actor: string; target: string }[] }>(
      `/admin/audit?action=agreement_request.approve`,
    );
    expect(audit.items[0]).toMatchObject({
      actor: `person:${OPERATOR.username}`,
      target: `agreement_request:${toApprove.id}`,
    });
    await screenshot(page, "agreement-request-approved");
  });

  it("rejects a request with a reason that the consumer reads", async () => {
    await rowOf(page, toReject.id)
      .getByRole("button", { name: /^Reject/ })
      .click();
    await page.waitForURL(new RegExp(`/console/agreement-requests/${toReject.id}/reject\\??$`));
    // A rejection needs a reason: the form does not go without one.
    await page.getByRole("button", { name: "Confirm: reject" }).click();
    expect(new URL(page.url()).pathname).toBe(`/console/agreement-requests/${toReject.id}/reject`);
    expect(await stateOf(toReject.id)).toBe("requested");
    await page.getByLabel("Reason").fill("telematico has no contract for fleet analytics");
    await screenshot(page, "agreement-request-reject");
    expect(seriousOf(await axe(page))).toEqual([]);
    await page.getByRole("button", { name: "Confirm: reject" }).click();
    await page.waitForURL(/\/console\/agreements\?/);
    expect(await page.getByRole("status").textContent()).toContain(
      `Rejected: request ${toReject.id} is now rejected`,
    );
    expect(await rowOf(page, toReject.id).count()).toBe(0);
    expect(await rowOf(page, untouched.id).count()).toBe(1);

    const seen = await fetch(`${g.url}/v1/agreement-requests/${toReject.id}`, {
      headers: { Authorization: `Bearer ${await catalogToken("telematico")}` },
    });
    expect(await seen.json()).toMatchObject({
      state: "rejected",
      agreement: null,
      reason: "telematico has no contract for fleet analytics",
    });
    const audit = await adminGet<{ items: { actor: string; reason: string }[] }>(
      `/admin/audit?action=agreement_request.reject`,
    );
    expect(audit.items[0]).toMatchObject({
      actor: `person:${OPERATOR.username}`,
      reason: "telematico has no contract for fleet analytics",
    });
  });

  it("a step the request's state forbids shows the API's 409 on the page", async () => {
    await page.goto(`${g.url}/console/agreement-requests/${toReject.id}/approve`);
    const res = await Promise.all([
      page.waitForResponse((r) => r.request().method() === "POST"),
      page.getByRole("button", { name: "Confirm: approve" }).click(),
    ]);
    expect(res[0].status()).toBe(409);
    expect(await page.getByRole("alert").textContent()).toContain("invalid_transition");
    expect(await stateOf(toReject.id)).toBe("rejected");
  });

  it("a form from another origin is refused: the request stays pending", async () => {
    const res = await context.request.post(
      `${g.url}/console/agreement-requests/${untouched.id}/approve`,
      {
        headers: {
          Origin: "http://127.0.0.1:1",
          "Content-Type": "application/x-www-form-urlencoded",
        },
        data: "reason=",
      },
    );
    expect(res.status()).toBe(403);
    expect(await stateOf(untouched.id)).toBe("requested");
  });

  it("finance cannot approve: the page and a well-formed POST are both refused", async () => {
    const financeContext = await browser.newContext();
    try {
      const fp = await financeContext.newPage();
      fp.setDefaultTimeout(10_000);
      await signIn(fp, g.url, FINANCE);
      const confirmPage = await fp.goto(
        `${g.url}/console/agreement-requests/${untouched.id}/approve`,
      );
      expect(confirmPage?.status()).toBe(403);
      expect(await fp.getByRole("alert").textContent()).toContain("scope_missing");
      expect(await fp.getByRole("button", { name: /^Confirm/ }).count()).toBe(0);

      // With finance's own session and token, from the console's origin: the API decides.
      const csrf = (await fp.locator('input[name="_csrf"]').first().getAttribute("value")) ?? "";
      const posted = await financeContext.request.post(
        `${g.url}/console/agreement-requests/${untouched.id}/approve`,
        {
          headers: { Origin: g.url, "Content-Type": "application/x-www-form-urlencoded" },
          data: new URLSearchParams({ _csrf: csrf, reason: "finance says yes" }).toString(),
        },
      );
      expect(posted.status()).toBe(403);
      expect(await posted.text()).toContain("scope_missing");
      expect(await stateOf(untouched.id)).toBe("requested");
    } finally {
      await financeContext.close();
    }
  });
});
