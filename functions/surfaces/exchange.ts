/**
 * The partners' data path: exchanges, their agreements, usage and
 * attestations (large transfers: transfers.ts; self-service: self-service.ts).
 */
import type { Surface } from "../app.ts";
import { exchangeApp } from "../exchange/app.ts";

export const exchangeSurface: Surface = {
  name: "exchange",
  mount(app, gw) {
    app.route("/", exchangeApp(gw));
  },
};
