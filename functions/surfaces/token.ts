/**
 * The public surface: OAuth token endpoint, keys, metadata, health, and the
 * API reference (the OpenAPI document and its page need no token either).
 */
import type { Surface } from "../app.ts";
import { openapiApp } from "../openapi/app.ts";
import { tokenApp } from "../token/app.ts";

export const tokenSurface: Surface = {
  name: "token",
  mount(app, gw) {
    app.route("/", tokenApp(gw));
    app.route("/", openapiApp());
    app.get("/health", async (c) => {
      // Ready means the store answers: a consistent read of a small item.
      await gw.registry.getTradeRules();
      return c.json({ status: "ok" });
    });
  },
};
