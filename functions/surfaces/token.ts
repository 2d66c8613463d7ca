/** The token surface: OAuth token endpoint, keys, metadata, health. */
import type { Surface } from "../app.ts";
import { tokenApp } from "../token/app.ts";

export const tokenSurface: Surface = {
  name: "token",
  mount(app, gw) {
    app.route("/", tokenApp(gw));
    app.get("/health", async (c) => {
      // Ready means the store answers: a consistent read of a small item.
      await gw.registry.getTradeRules();
      return c.json({ status: "ok" });
    });
  },
};
