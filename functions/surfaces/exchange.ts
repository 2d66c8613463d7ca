/** The partners' surface: exchanges, their agreements, usage and attestations. */
import type { Surface } from "../app.ts";
import { exchangeApp } from "../exchange/app.ts";

export const exchangeSurface: Surface = {
  name: "exchange",
  mount: (app, gw) => app.route("/", exchangeApp(gw)),
};
