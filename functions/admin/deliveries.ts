/** Operators: the state of event deliveries to counterparties. */
import { Hono } from "hono";
import { z } from "zod";
import type { Gateway } from "../gateway.ts";
import type { AppEnv } from "../http/env.ts";
import { parseWith } from "../http/validate.ts";
import { PageQuery } from "./common.ts";

export const DeliveryQuery = PageQuery.extend({
  state: z.enum(["pending", "delivered", "failed"]).default("pending"),
});

export function deliveriesApp(gw: Gateway): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get("/", async (c) => {
    const q = parseWith(DeliveryQuery, c.req.query());
    return c.json(await gw.outbox.listDeliveries(q.state, q.limit, q.cursor));
  });
  return app;
}
