/**
 * The console: operators' and finance's pages under `/console`, served by
 * the gateway. Every page reads and changes things only through the
 * gateway's own admin and metrics routes, called in-process with the
 * signed-in person's access token (api.ts).
 */
import { type Context, Hono } from "hono";
import { createApp, type Surface } from "../app.ts";
import type { Gateway } from "../gateway.ts";
import { PeopleProvider } from "../people/provider.ts";
import { RelyingParty } from "../people/relying-party.ts";
import { adminSurface } from "../surfaces/admin.ts";
import { metricsSurface } from "../surfaces/metrics.ts";
import { registerAgreements } from "./agreements.tsx";
import { ConsoleApi, SessionEndedError } from "./api.ts";
import type { ConsoleAssets } from "./assets.ts";
import { registerAudit } from "./audit.tsx";
import { registerFinance } from "./finance.tsx";
import { registerFlows } from "./flows.tsx";
import { ConsoleCookies, type ConsoleEnv, crossSiteProblem, securityHeaders } from "./http.ts";
import { Page, sectionsFor } from "./pages/layout.tsx";
import { registerPartners } from "./partners.tsx";
import { render, viewerOf } from "./render.ts";
import { registerAgreementRequests } from "./requests.tsx";
import { registerSignIn } from "./sign-in.tsx";

export interface ConsoleOptions {
  /** The stylesheet, script and charting library it serves. */
  readonly assets: ConsoleAssets;
}

const MAX_FORM_BYTES = 16 * 1024;
const OPEN_PATHS = new Set(["/console/login", "/console/callback", "/console/signed-out"]);

async function message(c: Context, status: 403 | 404 | 503, title: string, text: string) {
  return c.html(
    `<!doctype html>${await (
      <Page title={title}>
        <p>{text}</p>
        <p>
          <a href="/console">Back to the console</a>
        </p>
      </Page>
    ).toString()}`,
    status,
  );
}

export function consoleApp(gw: Gateway, options: ConsoleOptions): Hono<ConsoleEnv> {
  const base = gw.settings.issuer;
  const ownOrigin = new URL(base).origin;
  const cookies = new ConsoleCookies(base);
  // What the pages call: the admin and metrics surfaces, in-process.
  const internal = createApp(gw, [adminSurface, metricsSurface]);
  let rp: RelyingParty | undefined;
  const relyingParty = () => {
    const settings = gw.settings.people;
    if (settings === undefined) throw new Error("no people provider is configured");
    rp ??= new RelyingParty(
      settings,
      new PeopleProvider(settings.issuer),
      `${base}/console/callback`,
    );
    return rp;
  };

  const app = new Hono<ConsoleEnv>();
  app.use("*", securityHeaders());

  app.get("/assets/:name", (c) => {
    const asset = options.assets.get(c.req.param("name"));
    if (asset === undefined) return c.notFound();
    const headers = {
      "Content-Type": asset.type,
      ETag: asset.etag,
      "Cache-Control": "no-cache",
    };
    if (c.req.header("If-None-Match") === asset.etag) return c.body(null, 304, headers);
    return c.body(asset.body, 200, headers);
  });

  app.use("*", async function consoleGate(c, next) {
    const path = new URL(c.req.url).pathname;
    if (path.startsWith("/console/assets/")) return next();
    if (gw.settings.people === undefined) {
      return message(
        c,
        503,
        "Sign-in is not configured",
        "This gateway has no OpenID provider for people (OIDC_ISSUER); the console needs one.",
      );
    }
    if (OPEN_PATHS.has(path)) return next();
    const sessionId = cookies.read(c, cookies.session);
    const session =
      sessionId === undefined ? undefined : await gw.sessions.get(sessionId, gw.clock());
    if (session === undefined || sessionId === undefined) {
      if (c.req.method === "GET") {
        const url = new URL(c.req.url);
        return c.redirect(
          `/console/login?return=${encodeURIComponent(url.pathname + url.search)}`,
          302,
        );
      }
      return message(c, 403, "Signed out", "Your console session has ended. Sign in again.");
    }
    c.set("session", session);
    c.set("sessionId", sessionId);
    c.set("api", new ConsoleApi(internal, session.accessToken, c.get("requestId")));
    if (c.req.method === "POST") {
      const declared = Number(c.req.header("Content-Length") ?? "0");
      if (!(declared <= MAX_FORM_BYTES))
        return message(c, 403, "Refused", "The form is too large.");
      const type = c.req.header("Content-Type") ?? "";
      if (!/^application\/x-www-form-urlencoded\s*(;|$)/i.test(type))
        return message(c, 403, "Refused", "The console takes forms only.");
      const body = await c.req.text();
      if (body.length > MAX_FORM_BYTES) return message(c, 403, "Refused", "The form is too large.");
      const form = Object.fromEntries(new URLSearchParams(body));
      const problem = crossSiteProblem(c, ownOrigin, sessionId, form._csrf);
      if (problem !== null) {
        gw.log.warn("console_cross_site_refused", { path, problem });
        return message(c, 403, "Refused", `This request was refused: ${problem}.`);
      }
      c.set("form", form);
    }
    try {
      await next();
    } catch (err) {
      if (!(err instanceof SessionEndedError)) throw err;
      await gw.sessions.end(sessionId, gw.clock());
      cookies.clear(c, cookies.session);
      c.res = c.redirect("/console/login", 302);
    }
  });

  registerSignIn(app, gw, relyingParty, cookies);

  app.get("/", (c) => {
    const first = sectionsFor(c.get("session").roles)[0];
    return c.redirect(first?.href ?? "/console/signed-out", 302);
  });

  app.post("/logout", async (c) => {
    await gw.sessions.end(c.get("sessionId"), gw.clock());
    cookies.clear(c, cookies.session);
    gw.log.info("console_sign_out", { actor: c.get("session").actor });
    return c.redirect("/console/signed-out", 303);
  });

  registerPartners(app);
  registerAgreements(app);
  registerAgreementRequests(app);
  registerFlows(app);
  registerAudit(app);
  registerFinance(app, gw.clock);

  app.notFound((c) =>
    c.get("session") === undefined
      ? message(c, 404, "Not found", "No such console page.")
      : render(
          c,
          <Page title="Not found" viewer={viewerOf(c)}>
            <p>No such console page.</p>
          </Page>,
          404,
        ),
  );
  return app;
}

/** The console as a surface of the gateway. */
export const consoleSurface = (options: ConsoleOptions): Surface => ({
  name: "console",
  mount: (app, gw) => {
    app.route("/console", consoleApp(gw, options) as unknown as Hono);
    app.get("/console/", (c) => c.redirect("/console", 301));
  },
});
