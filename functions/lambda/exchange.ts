/** Lambda entry point of the exchange surface: a thin shell around createApp. */
import { createApp } from "../app.ts";
import { exchangeSurface } from "../surfaces/exchange.ts";
import { lazyHandler } from "./runtime.ts";

export { awsClients } from "./runtime.ts";

export const handler = lazyHandler((gw) => createApp(gw, [exchangeSurface]));
