/**
 * The partners' surface: exchanges, their agreements, usage and
 * attestations, and self-service (catalog, offers, agreement requests).
 */
import type { Surface } from "../app.ts";
import { selfServiceApp } from "../catalog/app.ts";
import { exchangeApp } from "../exchange/app.ts";

export const exchangeSurface: Surface = {
  name: "exchange",
  mount(app, gw) {
    app.route("/", exchangeApp(gw));
    app.route("/", selfServiceApp(gw));
  },
};
