/** Finance: per-flow usage, value attribution, the reconciliation of the meter, periods and statements. */
import { Hono } from "hono";
import type { Gateway } from "../gateway.ts";
import { authenticate, requireCurrentCredentials, requireScope } from "../http/auth.ts";
import type { AppEnv } from "../http/env.ts";
import { parseWith } from "../http/validate.ts";
import { wantsCsv } from "./csv.ts";
import { attribute, FlowsQuery, flowRows, parseWindow, rowsToCsv, usageRows } from "./flows.ts";
import { periodsApp } from "./periods.ts";
import { reconcile } from "./reconcile.ts";

/** Finance: reads of the agreements and the meter's rollups and events; closing periods. */
export function metricsApp(
  gw: Pick<
    Gateway,
    | "verifier"
    | "people"
    | "clock"
    | "registry"
    | "meterReader"
    | "dpop"
    | "settings"
    | "credentials"
    | "db"
    | "audit"
  >,
): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use("/metrics/*", authenticate(gw, { people: true }), requireCurrentCredentials(gw));
  // Reads need metrics:read; closing a period needs metrics:close (periods.ts).
  app.on("GET", "/metrics/*", requireScope("metrics:read"));
  app.route("/", periodsApp(gw));

  app.get("/metrics/flows", async (c) => {
    const window = parseWindow(c.req.query(), gw.clock());
    const { granularity, groupBy } = parseWith(FlowsQuery, c.req.query());
    const rows = await flowRows(
      gw.meterReader,
      await gw.registry.allAgreements(),
      window,
      granularity,
      groupBy,
      gw.clock(),
    );
    if (wantsCsv(c.req.header("Accept"))) {
      return c.body(rowsToCsv(rows, groupBy), 200, { "Content-Type": "text/csv; charset=utf-8" });
    }
    return c.json({ from: window.from.toISOString(), to: window.to.toISOString(), items: rows });
  });

  app.get("/metrics/attribution", async (c) => {
    const window = parseWindow(c.req.query(), gw.clock());
    const agreements = await gw.registry.allAgreements();
    const rows = await usageRows(gw.meterReader, agreements, window, "total", gw.clock());
    const items = attribute(rows, new Map(agreements.map((a) => [a.id, a])));
    return c.json({ from: window.from.toISOString(), to: window.to.toISOString(), items });
  });

  app.get("/metrics/reconcile", async (c) => {
    // Recounting reads every event of the window: by default the last day, at most 31 days.
    const query = c.req.query();
    const now = gw.clock();
    const to = query.to ?? now.toISOString();
    const from = query.from ?? new Date(Date.parse(to) - 86_400_000).toISOString();
    const window = parseWindow({ ...query, from, to }, now, 31);
    return c.json(await reconcile(gw.meterReader, await gw.registry.allAgreements(), window));
  });

  return app;
}
