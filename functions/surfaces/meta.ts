/**
 * What anyone may read without a token: the keys (JWKS), the authorization
 * server metadata, health, and the API reference (the OpenAPI document and
 * its page). In AWS this surface runs on a small function of its own, which
 * also answers every unmatched route (`$default`, scanner traffic), so
 * neither takes concurrency from token issuance or from revocations.
 */
import type { Surface } from "../app.ts";
import { openapiApp } from "../openapi/app.ts";
import { metadataApp } from "../token/metadata.ts";

export const metaSurface: Surface = {
  name: "meta",
  mount(app, gw) {
    app.route("/", metadataApp(gw));
    app.route("/", openapiApp());
    app.get("/health", async (c) => {
      // Ready means the store answers: a consistent read of a small item.
      await gw.registry.getTradeRules();
      return c.json({ status: "ok" });
    });
  },
};
