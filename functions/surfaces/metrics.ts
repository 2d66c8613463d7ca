/** Finance's surface. */
import type { Surface } from "../app.ts";
import { metricsApp } from "../metrics/app.ts";

export const metricsSurface: Surface = {
  name: "metrics",
  mount: (app, gw) => app.route("/", metricsApp(gw)),
};
