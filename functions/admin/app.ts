/** The operators' surface: every route under /admin needs a token with scope `admin`. */
import { Hono } from "hono";
import { adminOffersApp, adminRequestsApp } from "../catalog/admin.ts";
import type { Gateway } from "../gateway.ts";
import { authenticate, requireCurrentCredentials, requireScope } from "../http/auth.ts";
import type { AppEnv } from "../http/env.ts";
import { declaredBodyLimit } from "../http/middleware.ts";
import { MAX_JSON_BODY_BYTES } from "../http/validate.ts";
import { agreementsApp } from "./agreements.ts";
import { auditApp } from "./audit.ts";
import { clientsApp } from "./clients.ts";
import { datasetsApp } from "./datasets.ts";
import { decisionsApp } from "./decisions.ts";
import { deliveriesApp } from "./deliveries.ts";
import { registerExitRoutes } from "./exit.ts";
import { flowMapApp } from "./flow-map.ts";
import { partnersApp } from "./partners.ts";
import { tradeRulesApp } from "./trade-rules.ts";

export function adminApp(gw: Gateway): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use(
    "*",
    declaredBodyLimit(MAX_JSON_BODY_BYTES),
    authenticate(gw, { people: true }),
    requireScope("admin"),
    requireCurrentCredentials(gw),
  );
  const partners = partnersApp(gw);
  registerExitRoutes(partners, gw);
  app.route("/partners", partners);
  app.route("/datasets", datasetsApp(gw));
  app.route("/datasets", adminOffersApp(gw));
  app.route("/agreement-requests", adminRequestsApp(gw));
  app.route("/agreements", agreementsApp(gw));
  app.route("/clients", clientsApp(gw));
  app.route("/audit", auditApp(gw));
  app.route("/trade-rules", tradeRulesApp(gw));
  app.route("/decisions", decisionsApp(gw));
  app.route("/flows", flowMapApp(gw));
  app.route("/deliveries", deliveriesApp(gw));
  return app;
}
