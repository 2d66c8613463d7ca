/**
 * Finance periods: closing a UTC month (scope `metrics:close`), and its
 * statement (scope `metrics:read`), live while the month is open and the
 * same bytes every time once it is closed.
 */
import { createHash, randomUUID } from "node:crypto";
import type { Context } from "hono";
import { Hono } from "hono";
import * as z from "zod";
import { Id } from "../../policies/model.ts";
import { monthKey } from "../../policies/windows.ts";
import { GatewayError, StoreUnavailableError } from "../errors.ts";
import type { Gateway } from "../gateway.ts";
import { requireScope } from "../http/auth.ts";
import type { AppEnv } from "../http/env.ts";
import { parseWith } from "../http/validate.ts";
import { jitteredDelay, sleep } from "../store/backoff.ts";
import { CLOSE_GRACE_MS, type PeriodState, Periods } from "../store/meter-periods.ts";
import { wantsCsv } from "./csv.ts";
import {
  forPartner,
  type Statement,
  statementCsv,
  statementItems,
  statementJson,
} from "./statements.ts";

export const Month = z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, "must be a UTC month, yyyy-mm");
/** `period` defaults to the current UTC month (open: computed live). */
export const StatementQuery = z.object({ period: Month.optional(), partner: Id.optional() });

/** Rounds to write the markers while metering writes contend for them, and the wait between. */
const BEGIN_ROUNDS = 8;
const BEGIN_BACKOFF = { baseMs: 20, capMs: 400 };

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

type PeriodsGateway = Pick<Gateway, "db" | "clock" | "registry" | "meterReader" | "audit">;

export function periodsApp(gw: PeriodsGateway): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const periods = new Periods(gw.db);

  /** The month's statement computed from its rollups now. */
  const compute = async (period: string, closed: boolean, closedAt?: string) => {
    const [rows, agreements] = await Promise.all([
      gw.meterReader.periodRows([period]),
      gw.registry.allAgreements(),
    ]);
    const items = statementItems(rows, new Map(agreements.map((a) => [a.id, a])));
    const statement: Statement = {
      period,
      closed,
      ...(closedAt === undefined ? {} : { closedAt }),
      items,
    };
    return statement;
  };

  app.post("/metrics/periods/:period/close", requireScope("metrics:close"), async (c) => {
    const period = parseWith(Month, c.req.param("period"), "period");
    const now = gw.clock();
    const end = Date.parse(`${period}-01T00:00:00Z`);
    const nextStart = new Date(end);
    nextStart.setUTCMonth(nextStart.getUTCMonth() + 1);
    if (period >= monthKey(now) || now.getTime() < nextStart.getTime() + CLOSE_GRACE_MS) {
      throw new GatewayError(
        "period_open",
        `${period} is still open: a month can be closed from ${CLOSE_GRACE_MS / 60_000} minutes after its end`,
      );
    }
    const attempt = randomUUID();
    let state: PeriodState = await periods.state(period);
    // The markers may meet a metering write's check of them (TransactionConflict):
    // try again; the loop ends once they exist, ours or another close's.
    for (let round = 1; state.state === "open"; round++) {
      if (await periods.beginClose(period, attempt, now)) break;
      if (round > BEGIN_ROUNDS)
        throw new StoreUnavailableError("begin closing the period", new Error("contended"));
      await sleep(jitteredDelay(round, BEGIN_BACKOFF));
      state = await periods.state(period);
    }
    // A close left half-done (`closing`) is taken over: the month no longer moves.
    if (state.state === "closed") throw closedAlready(period);
    const closedAt = now.toISOString();
    const statement = await compute(period, true, closedAt);
    const body = statementJson(statement);
    const digest = sha256(body);
    await periods.keepStatement(period, attempt, body);
    const result = await gw.audit.append(
      {
        actor: c.get("claims").sub,
        requestId: c.get("requestId"),
        action: "period.close",
        target: `period:${period}`,
        partners: [...new Set(statement.items.map((i) => i.partner))],
        details: { period, closedAt, sha256: digest, items: statement.items.length },
      },
      periods.finishOps(period, attempt, closedAt, digest),
    );
    if (!result.ok) throw closedAlready(period);
    return c.json({ period, closedAt, sha256: digest });
  });

  app.get("/metrics/statements", requireScope("metrics:read"), async (c) => {
    const query = parseWith(StatementQuery, c.req.query());
    const period = query.period ?? monthKey(gw.clock());
    const partner = query.partner;
    const state = await periods.state(period);
    if (state.state !== "closed") {
      return answer(c, forPartner(await compute(period, false), partner));
    }
    const kept = await periods.statement(period, state.attempt);
    if (kept === undefined)
      throw new StoreUnavailableError("read the statement", new Error("chunks missing"));
    c.header("ETag", `"${state.sha256}"`);
    if (partner === undefined && !wantsCsv(c.req.header("Accept"))) {
      // The kept bytes themselves: their SHA-256 is the close's.
      return c.body(kept, 200, { "Content-Type": "application/json" });
    }
    return answer(c, forPartner(JSON.parse(kept) as Statement, partner));
  });

  return app;
}

function answer(c: Context<AppEnv>, statement: Statement) {
  if (wantsCsv(c.req.header("Accept")))
    return c.body(statementCsv(statement), 200, { "Content-Type": "text/csv; charset=utf-8" });
  return c.body(statementJson(statement), 200, { "Content-Type": "application/json" });
}

const closedAlready = (period: string) =>
  new GatewayError("period_closed", `${period} was closed already`);
