/** The operators' surface, with the API reference. */
import { adminApp } from "../admin/app.ts";
import type { Surface } from "../app.ts";
import { openapiApp } from "../openapi/app.ts";

export const adminSurface: Surface = {
  name: "admin",
  mount(app, gw) {
    app.route("/admin", adminApp(gw));
    app.route("/", openapiApp());
  },
};
