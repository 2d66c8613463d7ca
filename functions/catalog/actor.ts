/** Who acts on the self-service surface: the calling partner, or an operator. */
import type { Context } from "hono";
import type { RequestActor } from "../../policies/offers.ts";
import type { AppEnv } from "../http/env.ts";

export type Actor = RequestActor;

export const partnerActor = (c: Context<AppEnv>): Actor => ({
  kind: "partner",
  id: c.get("claims").sub,
});

export const operatorActor = (c: Context<AppEnv>): Actor => ({
  kind: "operator",
  id: c.get("claims").sub,
});
