/**
 * Partner self-service: the catalog, offers and agreement requests (scope
 * `catalog`). In AWS a function of its own: approving a request writes an
 * agreement and the edges under both partners, which the exchange function,
 * on the data path, may never write.
 */
import type { Surface } from "../app.ts";
import { selfServiceApp } from "../catalog/app.ts";

export const selfServiceSurface: Surface = {
  name: "catalog",
  mount(app, gw) {
    app.route("/", selfServiceApp(gw));
  },
};
