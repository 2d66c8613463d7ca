/** Operators: the state of event deliveries to counterparties. */
import { Hono } from "hono";
import type { Gateway } from "../gateway.ts";
import type { AppEnv } from "../http/env.ts";
import { parseWith } from "../http/validate.ts";
import { DeliveryQuery } from "./schemas.ts";

export function deliveriesApp(gw: Gateway): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get("/", async (c) => {
    const q = parseWith(DeliveryQuery, c.req.query());
    return c.json(await gw.outbox.listDeliveries(q.state, q.limit, q.cursor));
  });
  return app;
}
