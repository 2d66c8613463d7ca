/** Large transfers (/v1/transfers*, /v1/uploads): a function of their own in AWS. */
import type { Surface } from "../app.ts";
import { transfersApp } from "../transfers/app.ts";

export const transfersSurface: Surface = {
  name: "transfers",
  mount(app, gw) {
    app.route("/", transfersApp(gw));
  },
};
