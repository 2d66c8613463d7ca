/** Finance: per-flow usage, value attribution and the reconciliation of the meter. */
import { Hono } from "hono";
import type { Gateway } from "../gateway.ts";
import { authenticate, requireCurrentCredentials, requireScope } from "../http/auth.ts";
import type { AppEnv } from "../http/env.ts";
import { parseWith } from "../http/validate.ts";
import { attribute, FlowsQuery, flowRows, hourRange, parseWindow, rowsToCsv } from "./flows.ts";

/** Finance reads only: the agreements and the meter's rollups and events. */
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
  >,
): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use(
    "/metrics/*",
    authenticate(gw, { people: true }),
    requireScope("metrics:read"),
    requireCurrentCredentials(gw),
  );

  app.get("/metrics/flows", async (c) => {
    const window = parseWindow(c.req.query(), gw.clock());
    const { granularity, groupBy } = parseWith(FlowsQuery, c.req.query());
    const rows = await flowRows(
      gw.meterReader,
      await gw.registry.allAgreements(),
      window,
      granularity,
      groupBy,
    );
    if (wantsCsv(c.req.header("Accept"))) {
      return c.body(rowsToCsv(rows, groupBy), 200, { "Content-Type": "text/csv; charset=utf-8" });
    }
    return c.json({ from: window.from.toISOString(), to: window.to.toISOString(), items: rows });
  });

  app.get("/metrics/attribution", async (c) => {
    const window = parseWindow(c.req.query(), gw.clock());
    const agreements = await gw.registry.allAgreements();
    const { fromHour, toHour } = hourRange(window.from, window.to);
    const rows = await gw.meterReader.hourRows(
      agreements.map((a) => a.id),
      fromHour,
      toHour,
    );
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
    const agreements = await gw.registry.allAgreements();
    const { fromHour, toHour } = hourRange(window.from, window.to);
    const [rollups, recount] = await Promise.all([
      gw.meterReader.hourRows(
        agreements.map((a) => a.id),
        fromHour,
        toHour,
      ),
      gw.meterReader.recount(new Date(`${fromHour}:00:00Z`), new Date(`${toHour}:00:00Z`)),
    ]);
    const key = (r: { agreement: string; hour: string; currency: string }) =>
      `${r.agreement}|${r.hour}|${r.currency}`;
    const counted = new Map(recount.map((r) => [key(r), r]));
    const differences = [];
    const seen = new Set<string>();
    for (const r of rollups) {
      seen.add(key(r));
      const e = counted.get(key(r));
      const recounted = {
        requests: e?.requests ?? 0,
        records: e?.records ?? 0,
        bytes: e?.bytes ?? 0,
        value: e?.value ?? 0,
      };
      const rolled = { requests: r.requests, records: r.records, bytes: r.bytes, value: r.value };
      if (JSON.stringify(recounted) !== JSON.stringify(rolled)) {
        differences.push({
          agreement: r.agreement,
          hour: r.hour,
          currency: r.currency,
          rollup: rolled,
          events: recounted,
        });
      }
    }
    for (const e of recount) {
      if (!seen.has(key(e))) {
        differences.push({
          agreement: e.agreement,
          hour: e.hour,
          currency: e.currency,
          rollup: { requests: 0, records: 0, bytes: 0, value: 0 },
          events: { requests: e.requests, records: e.records, bytes: e.bytes, value: e.value },
        });
      }
    }
    return c.json({
      from: window.from.toISOString(),
      to: window.to.toISOString(),
      flows: new Set(rollups.map((r) => r.agreement)).size,
      events: recount.reduce((n, r) => n + r.requests, 0),
      consistent: differences.length === 0,
      differences,
    });
  });

  return app;
}

export const wantsCsv = (accept: string | undefined): boolean =>
  accept !== undefined &&
  /(^|,)\s*text\/csv\s*(;|,|$)/i.test(accept) &&
  !/application\/json/i.test(accept);
