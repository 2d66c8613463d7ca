/** Lambda entry point of the metrics surface: a thin shell around createApp. */
import { createApp } from "../app.ts";
import { metricsSurface } from "../surfaces/metrics.ts";
import { lazyHandler } from "./runtime.ts";

export { awsClients } from "./runtime.ts";

export const handler = lazyHandler((gw) => createApp(gw, [metricsSurface]));
