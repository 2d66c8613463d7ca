/** Operators: explain a hypothetical exchange ("why was this partner refused?"). */
import { Hono } from "hono";
import { agreementScope, decide } from "../../policies/decide.ts";
import type { Gateway } from "../gateway.ts";
import type { AppEnv } from "../http/env.ts";
import { readJsonWith } from "../http/validate.ts";
import { DecisionInput } from "./schemas.ts";

export function decisionsApp(gw: Gateway): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.post("/", async (c) => {
    const input = await readJsonWith(c, DecisionInput);
    const state = await gw.registry.loadExchangeState(input.agreement);
    // The partner is assumed to hold the agreement's scope: the question is what the policy says.
    const decision = decide(
      {
        caller: input.partner,
        scopes: [agreementScope(input.agreement)],
        agreementId: input.agreement,
        action: input.action,
        purpose: input.purpose,
      },
      state,
      input.at === undefined ? gw.clock() : new Date(input.at),
    );
    return c.json({
      decision: decision.decision,
      reasons: decision.reasons.map(({ code, message }) => ({ code, message })),
      at: (input.at === undefined ? gw.clock() : new Date(input.at)).toISOString(),
    });
  });
  return app;
}
