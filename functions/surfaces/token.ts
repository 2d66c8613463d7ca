/** The token endpoint: client credentials for partners, operators and finance. */
import type { Surface } from "../app.ts";
import { tokenApp } from "../token/app.ts";

export const tokenSurface: Surface = {
  name: "token",
  mount(app, gw) {
    app.route("/", tokenApp(gw));
  },
};
