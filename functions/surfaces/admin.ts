/** The operators' surface. */
import { adminApp } from "../admin/app.ts";
import type { Surface } from "../app.ts";

export const adminSurface: Surface = {
  name: "admin",
  mount: (app, gw) => app.route("/admin", adminApp(gw)),
};
