/** Operators: the audit trail, filtered, and the verification of its hash chain. */
import { Hono } from "hono";
import type { Gateway } from "../gateway.ts";
import type { AppEnv } from "../http/env.ts";
import { parseWith } from "../http/validate.ts";
import { AuditQuery } from "./schemas.ts";

export function auditApp(gw: Gateway): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.get("/", async (c) => {
    const q = parseWith(AuditQuery, c.req.query());
    return c.json(await gw.audit.list(q, q.limit, q.cursor));
  });

  app.get("/verify", async (c) => c.json(await gw.audit.verify()));

  return app;
}
