/**
 * Lambda entry point of the exchange surface (and its large transfers, whose
 * jobs it starts on the worker): a thin shell around createApp.
 */
import { createApp } from "../app.ts";
import { exchangeSurface } from "../surfaces/exchange.ts";
import { lazyHandler } from "./runtime.ts";
import { transferParts } from "./transfer-parts.ts";

export { awsClients } from "./runtime.ts";

export const handler = lazyHandler((gw) => createApp(gw, [exchangeSurface]), transferParts);
