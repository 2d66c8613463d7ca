/**
 * The console in a real browser: the local gateway as `npm start` runs it
 * (embedded sign-in provider, demo ecosystem) on tables of its own, Debian's
 * Chromium driven by playwright-core, axe-core for accessibility, and
 * screenshots saved under test-results/console/.
 */
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { parseLocalEnv } from "../../functions/local/config.ts";
import { freePort } from "../../functions/local/dynamo-local.ts";
import { type LocalGateway, startLocalGateway } from "../../functions/local/server.ts";
import { PROJECT_ROOT } from "../../infra/bundling.ts";
import { dynamoEndpoint } from "../support/gateway.ts";

export const OPERATOR = { username: "olivia", password: "operator-pass-1" };
export const FINANCE = { username: "frank", password: "finance-pass-1" };

/** Debian's Chromium (`.ci/run` installs it when missing). */
export function chromiumPath(): string {
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv !== undefined && existsSync(fromEnv)) return fromEnv;
  for (const candidate of ["/usr/bin/chromium", "/usr/bin/chromium-browser"]) {
    if (existsSync(candidate)) return candidate;
  }
  return execFileSync("sh", ["-c", "command -v chromium"], { encoding: "utf8" }).trim();
}

/** One browser per test file: the flags of the machine's notes (closed network, root). */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-dev-shm-usage",
    ],
  });
}

/** The local gateway with the console, its two people and the demo, on tables of its own. */
export async function startConsoleGateway(): Promise<LocalGateway> {
  const dataDir = await mkdtemp(join(tmpdir(), "dsg-console-"));
  return startLocalGateway(
    parseLocalEnv({
      DYNAMODB_ENDPOINT: dynamoEndpoint(),
      PORT: String(await freePort()),
      DATA_DIR: dataDir,
      CONSOLE_OPERATOR: `${OPERATOR.username}:${OPERATOR.password}`,
      CONSOLE_FINANCE: `${FINANCE.username}:${FINANCE.password}`,
    }),
    { tablePrefix: `c${randomUUID().slice(0, 8)}` },
  );
}

/** Signs in through the provider's page; the browser ends up on a console page. */
export async function signIn(
  page: Page,
  base: string,
  who: { username: string; password: string },
  path = "/console",
): Promise<void> {
  await page.goto(`${base}${path}`);
  await page.getByLabel("Username").fill(who.username);
  await page.getByLabel("Password").fill(who.password);
  await Promise.all([
    page.waitForURL((url) => url.pathname.startsWith("/console")),
    page.getByRole("button", { name: "Sign in" }).click(),
  ]);
}

const ARTEFACTS = join(PROJECT_ROOT, "test-results", "console");

/** A full-page screenshot kept as a test artefact; returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTEFACTS, { recursive: true });
  const path = join(ARTEFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

export interface AxeViolation {
  readonly id: string;
  readonly impact: string | null;
  readonly help: string;
  readonly nodes: readonly { target: readonly string[] }[];
}

const axeSource = readFileSync(
  createRequire(import.meta.url).resolve("axe-core/axe.min.js"),
  "utf8",
);

/**
 * axe-core's findings on the page as it stands. The page's CSP allows no
 * inline script, so axe runs through the DevTools protocol (page.evaluate),
 * which CSP does not govern; the page itself is not changed.
 */
export async function axe(page: Page): Promise<AxeViolation[]> {
  const result = await page.evaluate(`(async () => {
    ${axeSource}
    const r = await axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.map((n) => ({ target: n.target })) }));
  })()`);
  return result as AxeViolation[];
}

/** The findings that fail a page: serious or critical. */
export const seriousOf = (violations: readonly AxeViolation[]) =>
  violations.filter((v) => v.impact === "serious" || v.impact === "critical");

/** A token of the gateway's own, for checking through the API what the console did. */
export async function clientToken(
  base: string,
  id: string,
  secret: string,
  scope: string,
): Promise<string> {
  const res = await fetch(`${base}/oauth/token`, {
    method: "POST",
    headers: {
      Authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`,
      "Content-Type": "application/x-www-form-urlencoded",
    },
    body: `grant_type=client_credentials&scope=${encodeURIComponent(scope)}`,
  });
  if (res.status !== 200) throw new Error(`token for ${id}: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { access_token: string }).access_token;
}
