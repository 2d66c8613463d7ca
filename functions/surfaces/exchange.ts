/**
 * The partners' data path: exchanges, large transfers, their agreements,
 * usage and attestations (self-service is a surface of its own: self-service.ts).
 */
import type { Surface } from "../app.ts";
import { exchangeApp } from "../exchange/app.ts";
import { transfersApp } from "../transfers/app.ts";

export const exchangeSurface: Surface = {
  name: "exchange",
  mount(app, gw) {
    app.route("/", exchangeApp(gw));
    app.route("/", transfersApp(gw));
  },
};
