/** Operators: the audit trail, filtered, and the verification of its hash chain. */
import { Hono } from "hono";
import { z } from "zod";
import { Id } from "../../policies/model.ts";
import type { Gateway } from "../gateway.ts";
import type { AppEnv } from "../http/env.ts";
import { parseWith } from "../http/validate.ts";
import { PageQuery } from "./common.ts";

const instant = z.iso.datetime({ offset: true }).transform((v) => new Date(v));
export const AuditQuery = PageQuery.extend({
  from: instant.optional(),
  to: instant.optional(),
  partner: Id.optional(),
  action: z
    .string()
    .regex(/^[a-z_]+\.[a-z_]+$/, "is not an action name")
    .optional(),
});

export function auditApp(gw: Gateway): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.get("/", async (c) => {
    const q = parseWith(AuditQuery, c.req.query());
    return c.json(await gw.audit.list(q, q.limit, q.cursor));
  });

  app.get("/verify", async (c) => c.json(await gw.audit.verify()));

  return app;
}
