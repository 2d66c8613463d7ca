/** Operators: the ecosystem's embargoed jurisdictions and denied parties. */
import { Hono } from "hono";
import { type TradeRules, TradeRulesInput } from "../../policies/model.ts";
import type { Gateway } from "../gateway.ts";
import type { AppEnv } from "../http/env.ts";
import { readJsonWith } from "../http/validate.ts";
import { auditedWrite } from "./common.ts";

export function tradeRulesApp(gw: Gateway): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.get("/", async (c) => c.json((await gw.registry.getTradeRules()).value));

  app.put("/", async (c) => {
    const input = await readJsonWith(c, TradeRulesInput);
    const { value, rev } = await gw.registry.getTradeRules();
    const rules: TradeRules = {
      ...input,
      version: value.version + 1,
      updatedAt: gw.clock().toISOString(),
    };
    await auditedWrite(
      gw,
      c,
      {
        action: "trade_rules.update",
        target: "trade-rules",
        partners: rules.deniedParties,
        details: { rules },
      },
      gw.registry.tradeRulesOps(rules, rev),
    );
    return c.json(rules);
  });

  return app;
}
