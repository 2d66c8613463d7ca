/**
 * Signing in and the session's safety, in a real browser: the provider's
 * page (labelled, a wrong password refused with a message), the session
 * cookie (HttpOnly, SameSite, opaque), no token within the browser's reach,
 * the CSP on every page, a state-changing POST from another origin (another
 * loopback port) refused, a replayed or forged callback refused, and a
 * sign-out that ends the session server-side.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
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
let attacker: Server;
let attackerUrl: string;

beforeAll(async () => {
  [g, browser] = await Promise.all([startConsoleGateway(), launchBrowser()]);
  // Another origin on the same host: a page whose form posts to the console.
  attacker = createServer((_req, res) => {
    res.writeHead(200, { "Content-Type": "text/html" });
    res.end(`<!doctype html><html><body>
      <form method="post" action="${g.url}/console/partners/telematico/suspend">
        <input name="reason" value="cross-site">
        <input name="_csrf" value="guessed">
        <button type="submit">Win a prize</button>
      </form></body></html>`);
  });
  await new Promise<void>((resolve) => attacker.listen(0, "127.0.0.1", resolve));
  attackerUrl = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}/`;
});

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => attacker?.close(resolve));
  await g?.stop();
});

async function freshPage(): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  return { context, page };
}

const partnerStatus = async (id: string): Promise<string> => {
  const admin = await clientToken(g.url, g.operator.id, g.operator.secret, "admin");
  const res = await fetch(`${g.url}/admin/partners/${id}`, {
    headers: { Authorization: `Bearer ${admin}` },
  });
  return ((await res.json()) as { status: string }).status;
};

describe("signing in", () => {
  it("sends a person to the provider's labelled page, refuses a wrong password with a message, then signs in", async () => {
    const { context, page } = await freshPage();
    await page.goto(`${g.url}/console/agreements`);
    expect(new URL(page.url()).pathname).toMatch(/^\/idp\/interaction\//);
    expect(await page.getByLabel("Username").getAttribute("autocomplete")).toBe("username");
    expect(await page.getByLabel("Password").getAttribute("type")).toBe("password");
    await screenshot(page, "sign-in");
    expect(seriousOf(await axe(page))).toEqual([]);

    await page.getByLabel("Username").fill(OPERATOR.username);
    await page.getByLabel("Password").fill("not-the-password");
    await page.getByRole("button", { name: "Sign in" }).click();
    expect(await page.getByRole("alert").textContent()).toBe("Wrong username or password.");
    expect(new URL(page.url()).pathname).toMatch(/^\/idp\/interaction\//);
    expect(await context.cookies(g.url)).not.toContainEqual(
      expect.objectContaining({ name: "dsg_session" }),
    );
    await screenshot(page, "sign-in-refused");
    expect(seriousOf(await axe(page))).toEqual([]);

    await page.getByLabel("Password").fill(OPERATOR.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(`${g.url}/console/agreements`);

    const cookies = await context.cookies(g.url);
    const session = cookies.find((c) => c.name === "dsg_session");
    expect(session).toMatchObject({ httpOnly: true, sameSite: "Lax", path: "/", secure: false });
    expect(session?.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(cookies.find((c) => c.name === "dsg_login")).toBeUndefined();
    // No token anywhere a script could read it.
    expect(
      await page.evaluate(
        "JSON.stringify([localStorage.length, sessionStorage.length, document.cookie])",
      ),
    ).toBe('[0,0,""]');
    expect(await page.content()).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\./);
    await context.close();
  });

  it("serves every console page with a CSP that loads nothing from elsewhere", async () => {
    const { context, page } = await freshPage();
    await signIn(page, g.url, OPERATOR);
    for (const path of ["/console/partners", "/console/flows", "/console/assets/console.js"]) {
      const res = await page.request.get(`${g.url}${path}`);
      expect(res.status()).toBe(200);
      const csp = res.headers()["content-security-policy"] ?? "";
      expect(csp).toContain("default-src 'self'");
      expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:/);
      expect(res.headers()["x-content-type-options"]).toBe("nosniff");
    }
    const html = await (await page.request.get(`${g.url}/console/partners`)).text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>\s*\S/); // no inline script
    expect(html).not.toMatch(/\sstyle=/); // no inline style
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//); // nothing from another host
    await context.close();
  });

  it("refuses a state-changing POST from another origin (another port of this host)", async () => {
    const { context, page } = await freshPage();
    await signIn(page, g.url, OPERATOR);
    expect(await partnerStatus("telematico")).toBe("active");

    await page.goto(attackerUrl);
    const [answer] = await Promise.all([
      page.waitForResponse((r) => r.url().includes("/console/partners/telematico/suspend")),
      page.getByRole("button", { name: "Win a prize" }).click(),
    ]);
    expect(answer.status()).toBe(403);
    expect(await answer.text()).toContain("another origin");
    expect(await partnerStatus("telematico")).toBe("active");

    // The same form sent from the console's own origin without the session's token: refused too.
    await page.goto(`${g.url}/console/partners`);
    const status = await page.evaluate(`fetch("/console/partners/telematico/suspend", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: "reason=no-token&_csrf=guessed",
    }).then((r) => r.status)`);
    expect(status).toBe(403);
    expect(await partnerStatus("telematico")).toBe("active");
    await context.close();
  });

  it("refuses a callback that no sign-in of this browser started", async () => {
    const { context, page } = await freshPage();
    const res = await page.goto(`${g.url}/console/callback?code=forged&state=forged`);
    expect(res?.status()).toBe(400);
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("Sign-in expired");
    await context.close();
  });

  it("signing out ends the session on the server: the old cookie opens nothing", async () => {
    const { context, page } = await freshPage();
    await signIn(page, g.url, OPERATOR);
    const cookie = (await context.cookies(g.url)).find((c) => c.name === "dsg_session");
    expect(cookie).toBeDefined();
    const withOld = () =>
      fetch(`${g.url}/console/partners`, {
        headers: { Cookie: `dsg_session=${cookie?.value}` },
        redirect: "manual",
      });
    expect((await withOld()).status).toBe(200);

    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(`${g.url}/console/signed-out`);
    await screenshot(page, "signed-out");
    expect(seriousOf(await axe(page))).toEqual([]);
    const after = await withOld();
    expect(after.status).toBe(302);
    expect(after.headers.get("location")).toMatch(/^\/console\/login\?return=/);
    await context.close();
  });
});
