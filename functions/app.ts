/**
 * createApp: the whole gateway as one Hono app, or only some surfaces of it
 * (each Lambda function serves one). Built once per process from a Gateway.
 */
import { Hono } from "hono";
import { adminApp } from "./admin/app.ts";
import { exchangeApp } from "./exchange/app.ts";
import { invalidPath } from "./exchange/path.ts";
import type { Gateway } from "./gateway.ts";
import type { AppEnv } from "./http/env.ts";
import { requestId } from "./http/middleware.ts";
import { onError, onNotFound } from "./http/problem.ts";
import { rawPathProblem } from "./http/raw-path.ts";
import { rawTargetOf } from "./http/raw-target.ts";
import { metricsApp } from "./metrics/app.ts";
import { openapiApp } from "./openapi/app.ts";
import { tokenApp } from "./token/app.ts";

export const SURFACES = ["token", "exchange", "admin", "metrics"] as const;
export type Surface = (typeof SURFACES)[number];

export function createApp(gw: Gateway, surfaces: readonly Surface[] = SURFACES): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use("*", requestId());
  app.use("*", async function rejectPathTricks(c, next) {
    const problem = rawPathProblem(rawTargetOf(c));
    if (problem !== null) throw invalidPath(problem);
    await next();
  });
  app.onError(onError(gw.log));
  app.notFound(onNotFound);

  if (surfaces.includes("token")) {
    app.route("/", tokenApp(gw));
    app.get("/health", async (c) => {
      await gw.registry.getTradeRules();
      return c.json({ status: "ok" });
    });
  }
  if (surfaces.includes("exchange")) app.route("/", exchangeApp(gw));
  if (surfaces.includes("admin")) {
    app.route("/admin", adminApp(gw));
    app.route("/", openapiApp());
  }
  if (surfaces.includes("metrics")) app.route("/", metricsApp(gw));
  return app;
}
